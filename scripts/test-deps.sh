#!/usr/bin/env bash
# Installs the real parts the tests start (each on a free loopback port), when missing:
# mosquitto, nats-server (MQTT on NATS refuses characters mosquitto accepts), Python's Jinja2
# (the Home Assistant discovery tests render every template with it, as Home Assistant does),
# haproxy (the deployment test runs deploy/haproxy.cfg in front of two servers), nginx (the proxy
# mode tests run deploy/nginx.conf, which ends mTLS in front of the servers) and Chromium (the
# fleet page tests drive Debian's browser through playwright-core, which downloads none),
# redis-server with redis-cli (the redis producer's tests run it alone, as a cluster and with TLS),
# librdkafka-dev and gcc (the Kafka tests build test/kafka-mock/launcher.c, which runs librdkafka's
# mock cluster: no Apache Kafka package installs on Debian) and kcat (a second Kafka client).
set -euo pipefail
need=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ] || need+=(nats-server)
python3 -c 'import jinja2' >/dev/null 2>&1 || /usr/bin/python3 -c 'import jinja2' >/dev/null 2>&1 || need+=(python3-jinja2)
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || need+=(haproxy)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx)
[ -x /usr/bin/chromium ] || need+=(chromium)
{ [ -x /usr/bin/redis-server ] && [ -x /usr/bin/redis-cli ]; } || need+=(redis-server redis-tools)
[ -f /usr/include/librdkafka/rdkafka_mock.h ] || need+=(librdkafka-dev)
command -v gcc >/dev/null 2>&1 || need+=(gcc libc6-dev)
command -v kcat >/dev/null 2>&1 || need+=(kcat)
# `test-deps.sh rabbitmq-server`: make test-cluster also runs a 3-node RabbitMQ cluster.
for extra in "$@"; do
  [ "$extra" = rabbitmq-server ] && { [ -x /usr/sbin/rabbitmq-server ] || need+=(rabbitmq-server); }
done
[ "${#need[@]}" -eq 0 ] && exit 0
SUDO=""
if [ "$(id -u)" != 0 ]; then
  if ! sudo -n true 2>/dev/null; then
    echo "the tests need: ${need[*]} (Debian packages); install them, e.g. sudo apt-get install ${need[*]}" >&2
    exit 1
  fi
  SUDO="sudo -n"
fi
echo "installing ${need[*]} for the tests" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# The tests start their own brokers and haproxy; the packages' services are not needed.
if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl stop mosquitto nats-server haproxy nginx rabbitmq-server redis-server >/dev/null 2>&1 || true; fi
# Without systemd, Debian's redis-server package may start its service through its init script.
if ! command -v systemctl >/dev/null 2>&1 && [ -x /etc/init.d/redis-server ]; then $SUDO /etc/init.d/redis-server stop >/dev/null 2>&1 || true; fi

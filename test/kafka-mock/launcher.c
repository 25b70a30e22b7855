/*
 * A Kafka cluster for the tests: librdkafka's mock cluster (it speaks the Kafka protocol on
 * loopback ports). Usage: launcher [brokers]. Prints "bootstrap <servers>" once listening, then
 * reads one command per line on stdin and answers "ok" or "error <why>":
 *   down <id|-1>              broker disconnects its clients and refuses new ones (-1: all)
 *   up <id|-1>                broker accepts connections again
 *   rtt <id|-1> <ms>          broker answers every request that much later
 *   errors <api_key> <err>... the next requests of that API kind fail with these error codes
 *   topic <name> <partitions> <replication>
 * Exits on stdin EOF, SIGTERM or SIGINT, after destroying the cluster.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#define MAX_ERRORS 64

static volatile sig_atomic_t stopping = 0;

static void on_signal(int sig) {
  (void)sig;
  stopping = 1;
}

static void answer(rd_kafka_resp_err_t err) {
  if (err) printf("error %s\n", rd_kafka_err2name(err));
  else printf("ok\n");
  fflush(stdout);
}

static void run(rd_kafka_mock_cluster_t *mc, char *line) {
  char *cmd = strtok(line, " \t\r\n");
  if (!cmd) return answer(RD_KAFKA_RESP_ERR_NO_ERROR);
  char *a = strtok(NULL, " \t\r\n");
  char *b = strtok(NULL, " \t\r\n");
  if (!strcmp(cmd, "down") && a) return answer(rd_kafka_mock_broker_set_down(mc, atoi(a)));
  if (!strcmp(cmd, "up") && a) return answer(rd_kafka_mock_broker_set_up(mc, atoi(a)));
  if (!strcmp(cmd, "rtt") && a && b) return answer(rd_kafka_mock_broker_set_rtt(mc, atoi(a), atoi(b)));
  if (!strcmp(cmd, "topic") && a && b) {
    char *c = strtok(NULL, " \t\r\n");
    return answer(rd_kafka_mock_topic_create(mc, a, atoi(b), c ? atoi(c) : 1));
  }
  if (!strcmp(cmd, "errors") && a && b) {
    rd_kafka_resp_err_t errs[MAX_ERRORS];
    size_t n = 0;
    for (char *e = b; e && n < MAX_ERRORS; e = strtok(NULL, " \t\r\n")) errs[n++] = (rd_kafka_resp_err_t)atoi(e);
    rd_kafka_mock_push_request_errors_array(mc, (int16_t)atoi(a), n, errs);
    return answer(RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  printf("error unknown_command\n");
  fflush(stdout);
}

int main(int argc, char **argv) {
  int brokers = argc > 1 ? atoi(argv[1]) : 3;
  char errstr[512];
  /* The mock cluster lives inside a client handle; this one never connects anywhere. */
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr);
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (!rk) {
    fprintf(stderr, "rd_kafka_new: %s\n", errstr);
    return 1;
  }
  rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, brokers);
  if (!mc) {
    fprintf(stderr, "rd_kafka_mock_cluster_new failed\n");
    rd_kafka_destroy(rk);
    return 1;
  }
  /* No SA_RESTART: a signal interrupts the blocking read below. */
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  printf("bootstrap %s\n", rd_kafka_mock_cluster_bootstraps(mc));
  fflush(stdout);
  char line[1024];
  while (!stopping && fgets(line, sizeof line, stdin)) run(mc, line);
  rd_kafka_mock_cluster_destroy(mc);
  rd_kafka_destroy(rk);
  return 0;
}

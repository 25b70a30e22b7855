/**
 * A car over simulated time: parked, driving (speed, gear P→D→P, position along a path, charge
 * falling) and charging (charge state, AC power, charge rising), in a loop. Deterministic for a
 * seed, so a run can be reproduced and tests can check the behaviour without a network.
 */

type Phase = 'park' | 'drive' | 'charge';
type Gear = 'P' | 'D';
type ChargeStateName = 'Disconnected' | 'Starting' | 'Charging' | 'Complete' | 'Stopped';

export interface CarState {
  /** Simulated seconds since the model started. */
  time: number;
  phase: Phase;
  gear: Gear;
  speedMph: number;
  odometerMi: number;
  latitude: number;
  longitude: number;
  headingDeg: number;
  /** State of charge of the pack, percent. */
  soc: number;
  chargeLimitSoc: number;
  chargeState: ChargeStateName;
  acChargingPowerKw: number;
  chargerVoltage: number;
  chargeAmps: number;
  chargeEnergyAddedKwh: number;
  lifetimeEnergyUsedKwh: number;
  insideTempC: number;
  outsideTempC: number;
  packVoltage: number;
  packCurrent: number;
  locked: boolean;
  /** Minutes left of the current drive, 0 when not driving. */
  minutesToArrival: number;
  /** m/s², + forward: the speed change over the last step, or a harsh event. */
  longitudinalAccelMps2: number;
  /** m/s²: from the turn over the last step, kept below harsh cornering. */
  lateralAccelMps2: number;
  /** The harsh event of this step, if any (harshEvery). */
  harsh?: 'braking' | 'acceleration';
}

/** mulberry32: small, fast and good enough to vary a simulation. */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = s;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** A seed from a string (FNV-1a), so each VIN drives its own way every run. */
export function seedOf(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

const PACK_KWH = 75;
const WH_PER_MILE = 250;
const MILES_PER_DEG_LAT = 69.05;
const CHARGE_EFFICIENCY = 0.92;
const MPS_PER_MPH = 0.44704;

export interface CarModelOptions {
  seed: number;
  /** Where the car starts; a spot near Palo Alto, varied per seed, by default. */
  start?: { latitude: number; longitude: number };
  /**
   * Every Nth step a harsh event is due: made at the next step that drives at speed (braking and
   * acceleration alternately), and a parked car drives next unless its charge is low. 0: never.
   */
  harshEvery?: number;
}

export class CarModel {
  readonly state: CarState;
  private readonly rnd: () => number;
  private phaseLeft: number;
  private nextAfterPark: 'drive' | 'charge' = 'drive';
  private cruiseMph = 45;
  private readonly chargerKw: number;
  private stepsInPhase = 0;
  private steps = 0;
  private harshDue = false;
  private nextHarsh: 'braking' | 'acceleration' = 'braking';
  private readonly harshEvery: number;

  constructor(opts: CarModelOptions) {
    this.harshEvery = opts.harshEvery ?? 0;
    this.rnd = prng(opts.seed);
    const r = this.rnd;
    const start = opts.start ?? { latitude: 37.39 + (r() - 0.5) * 0.1, longitude: -122.15 + (r() - 0.5) * 0.1 };
    const outside = 8 + r() * 20;
    this.chargerKw = [7.2, 7.7, 9.6, 11.5][Math.floor(r() * 4)];
    this.state = {
      time: 0,
      phase: 'park',
      gear: 'P',
      speedMph: 0,
      odometerMi: 5000 + Math.floor(r() * 40000),
      latitude: start.latitude,
      longitude: start.longitude,
      headingDeg: Math.floor(r() * 360),
      soc: 45 + r() * 40,
      chargeLimitSoc: [80, 85, 90][Math.floor(r() * 3)],
      chargeState: 'Disconnected',
      acChargingPowerKw: 0,
      chargerVoltage: 0,
      chargeAmps: 0,
      chargeEnergyAddedKwh: 0,
      lifetimeEnergyUsedKwh: 1000 + Math.floor(r() * 9000),
      insideTempC: outside,
      outsideTempC: outside,
      packVoltage: 0,
      packCurrent: 0,
      locked: true,
      minutesToArrival: 0,
      longitudinalAccelMps2: 0,
      lateralAccelMps2: 0,
    };
    // Cars of a fleet start at different points of the loop.
    this.phaseLeft = 30 + r() * 240;
    this.electrics();
  }

  /** Advances the car by dt simulated seconds and returns its state (the same object). */
  step(dt: number): CarState {
    const s = this.state;
    s.time += dt;
    this.stepsInPhase++;
    this.steps++;
    if (this.harshEvery > 0 && this.steps % this.harshEvery === 0) this.harshDue = true;
    s.harsh = undefined;
    s.longitudinalAccelMps2 = 0;
    s.lateralAccelMps2 = 0;
    if (s.phase === 'drive') this.drive(dt);
    else if (s.phase === 'charge') this.charge(dt);
    else this.park(dt);
    this.phaseLeft -= dt;
    if (this.phaseLeft <= 0) this.nextPhase();
    this.weather(dt);
    this.electrics();
    return s;
  }

  private nextPhase(): void {
    const s = this.state;
    const r = this.rnd;
    this.stepsInPhase = 0;
    if (s.phase === 'park') {
      const next = s.soc < 25 ? 'charge' : this.nextAfterPark;
      // With harsh events wanted, trips are the point: no charging unless the pack is low.
      this.nextAfterPark = next === 'drive' && this.harshEvery === 0 ? 'charge' : 'drive';
      if (next === 'drive') {
        s.phase = 'drive';
        s.gear = 'D';
        this.cruiseMph = 25 + r() * 45;
        this.phaseLeft = (8 + r() * 22) * 60;
        s.minutesToArrival = this.phaseLeft / 60;
      } else {
        s.phase = 'charge';
        s.chargeState = 'Starting';
        s.chargeEnergyAddedKwh = 0;
        // Unplugged after at most three hours, full or not.
        this.phaseLeft = 3 * 3600;
      }
      return;
    }
    // A drive ends stopped, in D; the next state is parked in P.
    if (s.phase === 'charge') {
      s.chargeState = 'Disconnected';
      s.acChargingPowerKw = 0;
      s.chargerVoltage = 0;
      s.chargeAmps = 0;
    }
    s.phase = 'park';
    s.gear = 'P';
    s.speedMph = 0;
    s.minutesToArrival = 0;
    this.phaseLeft = (2 + r() * 8) * 60;
  }

  private drive(dt: number): void {
    const s = this.state;
    const r = this.rnd;
    const before = s.speedMph;
    // Stop in the last minute of the drive; otherwise cruise with traffic.
    let target = this.phaseLeft <= 60 ? 0 : this.cruiseMph + (r() - 0.5) * 20;
    if (this.phaseLeft > 60 && r() < 0.08) target = 0; // a red light
    const maxUp = 0.6 * dt;
    const maxDown = 1.2 * dt;
    s.speedMph = Math.max(0, before + Math.max(-maxDown, Math.min(maxUp, target - before)));
    if (this.phaseLeft <= 60) s.speedMph = 0;
    s.longitudinalAccelMps2 = ((s.speedMph - before) * MPS_PER_MPH) / dt;
    if (this.harshDue && s.speedMph > 10 && this.phaseLeft > 60) this.harshEvent();
    const miles = ((before + s.speedMph) / 2) * (dt / 3600);
    // Wander along a road; now and then a turn.
    const turn = r() < 0.1 ? (r() < 0.5 ? 90 : -90) : (r() - 0.5) * 20;
    s.headingDeg = (s.headingDeg + turn + 360) % 360;
    // v·ω over the step, capped well below harsh cornering: the emulator's events are on demand.
    const lateral = (s.speedMph * MPS_PER_MPH * turn * Math.PI) / 180 / dt;
    s.lateralAccelMps2 = Math.max(-2, Math.min(2, lateral));
    const h = (s.headingDeg * Math.PI) / 180;
    s.latitude += (miles * Math.cos(h)) / MILES_PER_DEG_LAT;
    s.longitude += (miles * Math.sin(h)) / (MILES_PER_DEG_LAT * Math.cos((s.latitude * Math.PI) / 180));
    s.odometerMi += miles;
    const kwh = (miles * WH_PER_MILE) / 1000 + (0.3 * dt) / 3600; // wheels plus climate and electronics
    s.soc = Math.max(0, s.soc - (kwh / PACK_KWH) * 100);
    s.lifetimeEnergyUsedKwh += kwh;
    s.insideTempC += (21 - s.insideTempC) * Math.min(1, dt / 600);
    s.minutesToArrival = Math.max(0, (this.phaseLeft - dt) / 60);
  }

  /** A harsh braking (about −0.55 g) or rapid acceleration (about +0.5 g) in this step. */
  private harshEvent(): void {
    const s = this.state;
    this.harshDue = false;
    s.harsh = this.nextHarsh;
    if (this.nextHarsh === 'braking') {
      s.longitudinalAccelMps2 = -5.4;
      s.speedMph = Math.max(0, s.speedMph - 10);
    } else {
      s.longitudinalAccelMps2 = 4.9;
      s.speedMph += 5;
    }
    this.nextHarsh = this.nextHarsh === 'braking' ? 'acceleration' : 'braking';
  }

  private charge(dt: number): void {
    const s = this.state;
    if (s.chargeState === 'Starting' && this.stepsInPhase > 1) s.chargeState = 'Charging';
    if (s.chargeState === 'Charging') {
      // Taper over the last few percent, as packs do.
      const taper = s.soc > s.chargeLimitSoc - 3 ? 0.5 : 1;
      s.acChargingPowerKw = this.chargerKw * taper * (0.97 + this.rnd() * 0.03);
      s.chargerVoltage = this.chargerKw > 7.5 ? 240 : 230;
      s.chargeAmps = Math.round((s.acChargingPowerKw * 1000) / s.chargerVoltage);
      const kwh = (s.acChargingPowerKw * dt) / 3600;
      s.chargeEnergyAddedKwh += kwh;
      s.soc = Math.min(s.chargeLimitSoc, s.soc + ((kwh * CHARGE_EFFICIENCY) / PACK_KWH) * 100);
      if (s.soc >= s.chargeLimitSoc) {
        s.chargeState = 'Complete';
        // Stay plugged in a little, then leave.
        this.phaseLeft = Math.min(this.phaseLeft, 3 * dt);
      }
    } else if (s.chargeState === 'Complete') {
      s.acChargingPowerKw = 0;
      s.chargeAmps = 0;
    }
    s.insideTempC += (s.outsideTempC - s.insideTempC) * Math.min(1, dt / 1800);
  }

  private park(dt: number): void {
    const s = this.state;
    s.soc = Math.max(0, s.soc - ((0.02 * dt) / 3600 / PACK_KWH) * 100); // standby drain
    s.insideTempC += (s.outsideTempC - s.insideTempC) * Math.min(1, dt / 1800);
  }

  private weather(dt: number): void {
    const s = this.state;
    s.outsideTempC += (this.rnd() - 0.5) * 0.2 * Math.min(1, dt / 60);
  }

  private electrics(): void {
    const s = this.state;
    s.packVoltage = 340 + s.soc * 0.65;
    let kw = 0.3;
    if (s.phase === 'drive') kw += (s.speedMph * WH_PER_MILE) / 1000;
    if (s.phase === 'charge') kw -= s.acChargingPowerKw * CHARGE_EFFICIENCY;
    s.packCurrent = (kw * 1000) / s.packVoltage;
  }

  /** Miles of range at the current charge. */
  get rangeMi(): number {
    return (this.state.soc / 100) * ((PACK_KWH * 1000) / WH_PER_MILE);
  }

  /** Hours to reach the charge limit at the present power, 0 when not charging. */
  get hoursToFull(): number {
    const s = this.state;
    if (s.chargeState !== 'Charging' || s.acChargingPowerKw <= 0) return 0;
    return (((s.chargeLimitSoc - s.soc) / 100) * PACK_KWH) / (s.acChargingPowerKw * CHARGE_EFFICIENCY);
  }
}

/**
 * Which Home Assistant entity each Tesla field becomes (docs/protocol.md §5.5): component, device
 * class, unit and state class, as Home Assistant's own Tesla integrations (tesla_fleet,
 * teslemetry) describe the same values. The car reports miles, mph, °C, bar, kW, kWh, V, A and %.
 * Fields not listed here get an entity by the kind of their first value, disabled by default.
 */

type StateClass = 'measurement' | 'total' | 'total_increasing';

export type FieldRule =
  | { c: 'sensor'; dc?: string; unit?: string; sc?: StateClass; disabled?: boolean }
  | { c: 'enum'; enumType: string }
  | { c: 'binary_sensor'; dc?: string; invert?: boolean; disabled?: boolean }
  | { c: 'text'; disabled?: boolean }
  | { c: 'members'; type: string; dc: string }
  | { c: 'device_tracker'; disabled?: boolean };

const num = (dc: string | undefined, unit: string | undefined, sc: StateClass = 'measurement'): FieldRule => ({ c: 'sensor', dc, unit, sc });
const speed = num('speed', 'mph');
const dist = num('distance', 'mi');
const distTotal = num('distance', 'mi', 'total_increasing');
const pct = num(undefined, '%');
const battery = num('battery', '%');
const volt = num('voltage', 'V');
const amp = num('current', 'A');
const kw = num('power', 'kW');
const kwhIn = num('energy', 'kWh', 'total_increasing');
const kwhStored = num('energy_storage', 'kWh');
const temp = num('temperature', '°C');
const bar = num('pressure', 'bar');
const hours = num('duration', 'h');
const minutes = num('duration', 'min');
const count = num(undefined, undefined);
// Home Assistant has no acceleration device class; the car reports m/s².
const accel = num(undefined, 'm/s²');
const e = (enumType: string): FieldRule => ({ c: 'enum', enumType });
const bin = (dc?: string): FieldRule => ({ c: 'binary_sensor', dc });
const text: FieldRule = { c: 'text' };

function many(names: string[], rule: FieldRule): [string, FieldRule][] {
  return names.map((n) => [n, rule]);
}

/** Field name → rule. Read-only after construction. */
export const FIELD_RULES: ReadonlyMap<string, FieldRule> = new Map<string, FieldRule>([
  ['VehicleSpeed', speed],
  ['LongitudinalAcceleration', accel],
  ['LateralAcceleration', accel],
  ['CruiseSetSpeed', speed],
  ['CurrentLimitMph', speed],
  ['Odometer', distTotal],
  ['EstBatteryRange', dist],
  ['RatedRange', dist],
  ['IdealBatteryRange', dist],
  ['MilesToArrival', dist],
  ['Soc', battery],
  ['BatteryLevel', battery],
  ['ChargeLimitSoc', pct],
  ['ExpectedEnergyPercentAtTripArrival', pct],
  ['SoftwareUpdateDownloadPercentComplete', pct],
  ['SoftwareUpdateInstallationPercentComplete', pct],
  ['TonneauOpenPercent', pct],
  ['PedalPosition', pct],
  ['BrakePedalPos', pct],
  ...many(['PackVoltage', 'ChargerVoltage', 'BrickVoltageMax', 'BrickVoltageMin', 'DiVBatR', 'DiVBatF', 'DiVBatREL', 'DiVBatRER'], volt),
  ...many(
    [
      'PackCurrent',
      'ChargeAmps',
      'ChargeCurrentRequest',
      'ChargeCurrentRequestMax',
      'DiMotorCurrentR',
      'DiMotorCurrentF',
      'DiMotorCurrentREL',
      'DiMotorCurrentRER',
    ],
    amp,
  ),
  ...many(['ACChargingPower', 'DCChargingPower', 'PowershareInstantaneousPowerKW'], kw),
  ...many(['ACChargingEnergyIn', 'DCChargingEnergyIn', 'LifetimeEnergyUsed', 'LifetimeEnergyUsedDrive', 'LifetimeEnergyGainedRegen'], kwhIn),
  ['EnergyRemaining', kwhStored],
  ...many(
    [
      'InsideTemp',
      'OutsideTemp',
      'ModuleTempMax',
      'ModuleTempMin',
      'HvacLeftTemperatureRequest',
      'HvacRightTemperatureRequest',
      'DiStatorTempR',
      'DiStatorTempF',
      'DiStatorTempREL',
      'DiStatorTempRER',
      'DiHeatsinkTR',
      'DiHeatsinkTF',
      'DiHeatsinkTREL',
      'DiHeatsinkTRER',
      'DiInverterTR',
      'DiInverterTF',
      'DiInverterTREL',
      'DiInverterTRER',
    ],
    temp,
  ),
  ...many(['TpmsPressureFl', 'TpmsPressureFr', 'TpmsPressureRl', 'TpmsPressureRr'], bar),
  ...many(['TimeToFullCharge', 'EstimatedHoursToChargeTermination', 'PowershareHoursLeft'], hours),
  ...many(['MinutesToArrival', 'RouteTrafficMinutesDelay', 'SoftwareUpdateExpectedDurationMinutes'], minutes),
  ['GpsHeading', num(undefined, '°')],
  ...many(['ChargerPhases', 'HomelinkDeviceCount', 'PairedPhoneKeyAndKeyFobQty', 'MediaAudioVolume', 'HvacFanSpeed', 'HvacSteeringWheelHeatLevel'], count),
  ['Gear', e('ShiftState')],
  ['ChargeState', e('ChargingState')],
  ['DetailedChargeState', e('DetailedChargeStateValue')],
  ...many(['FdWindow', 'FpWindow', 'RdWindow', 'RpWindow'], e('WindowState')),
  ['SentryMode', e('SentryModeState')],
  ['ChargePort', e('ChargePortValue')],
  ['ChargePortLatch', e('ChargePortLatchValue')],
  ['CarType', e('CarTypeValue')],
  ['BMSState', e('BMSStateValue')],
  ...many(['DriverSeatBelt', 'PassengerSeatBelt'], e('BuckleStatus')),
  ['ScheduledChargingMode', e('ScheduledChargingModeValue')],
  ['FastChargerType', e('FastCharger')],
  ['ChargingCableType', e('CableType')],
  ['HvacPower', e('HvacPowerState')],
  ['HvacAutoMode', e('HvacAutoModeState')],
  ['ClimateKeeperMode', e('ClimateKeeperModeState')],
  ['DefrostMode', e('DefrostModeState')],
  ['CabinOverheatProtectionMode', e('CabinOverheatProtectionModeState')],
  ['CabinOverheatProtectionTemperatureLimit', e('ClimateOverheatProtectionTempLimit')],
  ['LightsTurnSignal', e('TurnSignalState')],
  ['MediaPlaybackStatus', e('MediaStatus')],
  ['CenterDisplay', e('DisplayState')],
  ['SettingDistanceUnit', e('DistanceUnit')],
  ['SettingTemperatureUnit', e('TemperatureUnit')],
  ['SettingTirePressureUnit', e('PressureUnit')],
  ['SettingChargeUnit', e('ChargeUnitPreference')],
  ['CruiseFollowDistance', e('FollowDistance')],
  ['GuestModeMobileAccessState', e('GuestModeMobileAccess')],
  ['Hvil', e('HvilStatus')],
  ...many(['DiStateR', 'DiStateF', 'DiStateREL', 'DiStateRER'], e('DriveInverterState')),
  ['PowershareStatus', e('PowershareState')],
  ['PowershareStopReason', e('PowershareStopReasonStatus')],
  ['PowershareType', e('PowershareTypeStatus')],
  ['TonneauPosition', e('TonneauPositionState')],
  ['TonneauTentMode', e('TonneauTentModeState')],
  ['LaneDepartureAvoidance', e('LaneAssistLevel')],
  ['EmergencyLaneDepartureAvoidance', e('LaneAssistLevel')],
  ['SpeedLimitWarning', e('SpeedAssistLevel')],
  ['ForwardCollisionWarning', e('ForwardCollisionSensitivity')],
  // Home Assistant's lock class is on when unlocked: the car's Locked=true is off.
  ['Locked', { c: 'binary_sensor', dc: 'lock', invert: true }],
  ['ChargePortDoorOpen', bin('door')],
  ['FastChargerPresent', bin('plug')],
  ['BatteryHeaterOn', bin('heat')],
  ['DriverSeatOccupied', bin('occupancy')],
  ['NotEnoughPowerToHeat', bin('problem')],
  ['DCDCEnable', bin('power')],
  ['HomelinkNearby', bin('presence')],
  ...many(['LocatedAtHome', 'LocatedAtWork', 'LocatedAtFavorite'], bin('presence')),
  ...many(
    [
      'PreconditioningEnabled',
      'ScheduledChargingPending',
      'ServiceMode',
      'GuestModeEnabled',
      'ValetModeEnabled',
      'BmsFullchargecomplete',
      'ChargeEnableRequest',
      'ChargePortColdWeatherMode',
      'PinToDriveEnabled',
      'DefrostForPreconditioning',
      'SpeedLimitMode',
      'HvacACEnabled',
      'RemoteStartEnabled',
      'WiperHeatEnabled',
      'LightsHazardsActive',
      'LightsHighBeams',
      'RearDisplayHvacEnabled',
      'EuropeVehicle',
      'RightHandDrive',
      'OffroadLightbarPresent',
      'SuperchargerSessionTripPlanner',
      'AutomaticBlindSpotCamera',
      'BlindSpotCollisionWarningChime',
      'AutomaticEmergencyBrakingOff',
      'HvacSteeringWheelHeatAuto',
      'Setting24HourTime',
    ],
    bin(),
  ),
  ...many(
    [
      'VehicleName',
      'Version',
      'DestinationName',
      'SoftwareUpdateVersion',
      'Trim',
      'ExteriorColor',
      'RoofColor',
      'WheelType',
      'ScheduledDepartureTime',
      'MediaPlaybackSource',
      'EfficiencyPackage',
    ],
    text,
  ),
  ['DoorState', { c: 'members', type: 'Doors', dc: 'door' }],
  ...many(['TpmsHardWarnings', 'TpmsSoftWarnings'], { c: 'members', type: 'TireLocation', dc: 'problem' }),
  ['Location', { c: 'device_tracker' }],
  ...many(['OriginLocation', 'DestinationLocation'], { c: 'device_tracker', disabled: true }),
]);

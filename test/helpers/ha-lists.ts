/**
 * Home Assistant's documented lists (developers.home-assistant.io, "Sensor entity" and "Binary
 * sensor entity"), as far as this server's entities use them: each sensor device class with the
 * units Home Assistant accepts for it, the state classes, the binary_sensor device classes.
 */
export const HA_SENSOR_UNITS: Record<string, string[]> = {
  battery: ['%'],
  current: ['A', 'mA'],
  distance: ['km', 'm', 'cm', 'mm', 'mi', 'nmi', 'yd', 'ft', 'in'],
  duration: ['d', 'h', 'min', 's', 'ms'],
  energy: ['J', 'kJ', 'MJ', 'GJ', 'mWh', 'Wh', 'kWh', 'MWh', 'GWh', 'TWh', 'cal', 'kcal', 'Mcal', 'Gcal'],
  energy_storage: ['J', 'kJ', 'MJ', 'GJ', 'mWh', 'Wh', 'kWh', 'MWh', 'GWh', 'TWh', 'cal', 'kcal', 'Mcal', 'Gcal'],
  power: ['mW', 'W', 'kW', 'MW', 'GW', 'TW', 'BTU/h'],
  pressure: ['Pa', 'kPa', 'hPa', 'bar', 'cbar', 'mbar', 'mmHg', 'inHg', 'psi'],
  speed: ['ft/s', 'in/d', 'in/h', 'in/s', 'km/h', 'kn', 'm/s', 'mph', 'mm/d', 'mm/s', 'Beaufort'],
  temperature: ['°C', '°F', 'K'],
  voltage: ['V', 'mV', 'µV', 'kV', 'MV'],
};

export const HA_STATE_CLASSES = ['measurement', 'total', 'total_increasing'];

export const HA_BINARY_SENSOR_CLASSES = [
  'battery',
  'battery_charging',
  'carbon_monoxide',
  'cold',
  'connectivity',
  'door',
  'garage_door',
  'gas',
  'heat',
  'light',
  'lock',
  'moisture',
  'motion',
  'moving',
  'occupancy',
  'opening',
  'plug',
  'power',
  'presence',
  'problem',
  'running',
  'safety',
  'smoke',
  'sound',
  'tamper',
  'update',
  'vibration',
  'window',
];

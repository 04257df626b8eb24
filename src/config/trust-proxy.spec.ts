import { AppConfig } from './app-config.js';
import { ConfigError, parseEnvironment } from './environment.js';

const trustProxy = (value?: string) =>
  new AppConfig(parseEnvironment(value === undefined ? {} : { TRUST_PROXY: value }), 2).trustProxy;

describe('TRUST_PROXY', () => {
  it('trusts no proxy by default', () => {
    expect(trustProxy()).toBe(false);
    expect(trustProxy('false')).toBe(false);
  });

  it('reads true, a hop count, or proxy addresses and ranges as Fastify takes them', () => {
    expect(trustProxy('true')).toBe(true);
    expect(trustProxy('2')).toBe(2);
    expect(trustProxy('10.0.0.1, 10.0.0.0/8,fd00::/8, ::1, loopback')).toEqual([
      '10.0.0.1',
      '10.0.0.0/8',
      'fd00::/8',
      '::1',
      'loopback',
    ]);
  });

  it.each(['0', 'yes', 'proxy.internal', '10.0.0.256', '10.0.0.0/33', '::1/129', '10.0.0.0/8/1', '10.0.0.1,,10.0.0.2'])(
    'refuses %j',
    (value) => {
      expect(() => parseEnvironment({ TRUST_PROXY: value })).toThrow(ConfigError);
      expect(() => parseEnvironment({ TRUST_PROXY: value })).toThrow(/TRUST_PROXY=.*hop count/);
    },
  );
});

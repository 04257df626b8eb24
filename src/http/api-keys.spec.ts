import { accessArea } from './api-keys.js';

describe('accessArea', () => {
  it.each([
    ['/v1/sentiment', 'api'],
    ['/v1/a/route/added/later', 'api'],
    ['/v1', 'api'],
    ['/health/ready', 'ops'],
    ['/health/added-later', 'ops'],
    ['/metrics', 'ops'],
    ['/', 'public'],
    ['/docs', 'public'],
    ['/docs/openapi.json', 'public'],
    ['*', 'public'],
    ['/v10/sentiment', 'public'],
    ['/metricsx', 'public'],
  ])('puts the route pattern %s in the %s area', (pattern, area) => {
    expect(accessArea(pattern)).toBe(area);
  });
});

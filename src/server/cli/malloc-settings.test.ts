import { environmentWithMallocSettings, MALLOC_SETTINGS } from './malloc-settings';

describe('environmentWithMallocSettings', () => {
  const onGlibc = () => true;

  test('adds the mmap threshold to an environment without it, keeping everything else', () => {
    expect(environmentWithMallocSettings({ PATH: '/bin', MLMON_COLLECTOR_TOKEN: 'secret-token' }, onGlibc)).toEqual({
      PATH: '/bin',
      MLMON_COLLECTOR_TOKEN: 'secret-token',
      MALLOC_MMAP_THRESHOLD_: '65536',
    });
    expect(MALLOC_SETTINGS).toEqual({ MALLOC_MMAP_THRESHOLD_: '65536' });
  });

  test("nothing to do when the environment sets it (the re-executed process, or the user's own value)", () => {
    expect(environmentWithMallocSettings({ MALLOC_MMAP_THRESHOLD_: '131072' }, onGlibc)).toBeUndefined();
  });

  test('nothing to do off glibc, where the setting means nothing', () => {
    expect(environmentWithMallocSettings({ PATH: '/bin' }, () => false)).toBeUndefined();
  });
});

export * from './queryTypes';
export * from './frames';
export * from './resources';
export * from './settings';

export * from './merge';
export * from './completeness';

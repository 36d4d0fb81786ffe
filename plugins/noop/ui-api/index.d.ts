/** noop publishes no UI API; its tuples, for other plugins' pages that watch its counter. */
export interface NoopCounter {
  readonly _t: "noop.Counter";
  readonly name: string;
  readonly value: number | bigint;
}

/** The piscina task of the rpc benchmarks (a pool worker's module): add1(x) = x + 1. */
export default function add1(x: number): number {
  return x + 1;
}

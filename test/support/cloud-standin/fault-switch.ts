/**
 * The switch every cloud stand-in fails its steps with: `arm(step, {times, ...})` makes the next
 * `times` hits of that step fail with the given details (a later arm of the same step replaces
 * it), `take(step)` is asked by the handler of each call, and `fired` lists what really failed so
 * a test can tell a fault that fired from one a client's retry absorbed. What a fault carries
 * (status, error code, message...) is the provider's: each stand-in names its steps and details.
 */
export class FaultSwitch<Step extends string, Fault extends object> {
  private readonly armed = new Map<Step, { fault: Fault; left: number }>();
  /** Every fault that fired, in order. */
  readonly fired: Step[] = [];

  arm(step: Step, opts: Fault & { times?: number }): void {
    const { times = 1, ...fault } = opts;
    if (!(times > 0)) throw new Error(`fail('${step}'): times must be positive (Infinity for always), got ${times}`);
    this.armed.set(step, { fault: fault as Fault, left: times });
  }

  clear(): void {
    this.armed.clear();
  }

  /** The fault for `step` if one is armed, counting this hit; undefined when the step should succeed. */
  take(step: Step): Fault | undefined {
    const armed = this.armed.get(step);
    if (!armed) return undefined;
    armed.left -= 1;
    if (armed.left <= 0) this.armed.delete(step);
    this.fired.push(step);
    return { ...armed.fault };
  }
}

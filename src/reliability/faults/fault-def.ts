/** The shape of one fault of the catalogue (src/reliability/faults.ts). */
import type { FaultVm, FaultVmOptions } from './fault-vm.js';
import type { AfterFault, Recorder } from './postconditions.js';

export interface FaultDef {
  name: string;
  /** One line: what is injected, and when. */
  description: string;
  /** How its VM differs from the default one (3 vCPUs, traffic guest, no victim). */
  vm: Partial<Omit<FaultVmOptions, 'guardMs' | 'vcpus' | 'victim' | 'actorTransport' | 'actorPlacement'>> & {
    /** The victim vCPU (default: the last one). */
    victim?: 'last' | number;
  };
  /**
   * Inject the fault at its moment and check that the VM reports it
   * (rec.reportedAs, rec.check); returns what the common checks must expect.
   */
  inject(f: FaultVm, rec: Recorder): Promise<AfterFault>;
}

import Foundation
import Luz
import LuzDistributed

/// The bandwidth of summing a 10 MB float32 buffer across the processes of an `mpirun` job
/// (`mpirun -np 2 luz-bench allreduce`): 20 reductions after 3 for warm-up; the quality column
/// is the algorithmic bandwidth in MB/s (buffer size over time per reduction). Without mpirun
/// (one process) there is nothing to sum, and it says so.
func allReduceWorkload() {
    let group: MPIProcessGroup
    do {
        guard let launched = try MPIProcessGroup.launched(), launched.size > 1 else {
            FileHandle.standardError.write(Data("luz-bench allreduce: run it under mpirun with 2 or more processes (a build with --traits MPI)\n".utf8))
            return
        }
        group = launched
    } catch {
        FileHandle.standardError.write(Data("luz-bench allreduce: \(error)\n".utf8))
        return
    }
    let count = 10 * 1_048_576 / 4
    var buffer = [Float](repeating: 1, count: count)
    let steps = 20
    do {
        for _ in 0..<3 { try group.allReduceSum(&buffer) }
        try group.barrier()
        var failure: (any Error)?
        let seconds = timed {
            do {
                for _ in 0..<steps { try group.allReduceSum(&buffer) }
            } catch {
                failure = error
            }
        }
        if let failure { throw failure }
        if group.rank == 0 {
            report("allreduce", steps: steps, seconds: seconds, quality: 10 * Double(steps) / seconds)
        }
    } catch {
        group.abort("\(error)")
    }
}

import Foundation
import LuzDistributed
import LuzExamples

/// The `luz-examples` executable: the examples live in the LuzExamples library, so that tests
/// can run them; this only hands the command line to it.
///
/// Under `mpirun -np N` (a build with the MPI trait) every fit of the examples trains data
/// parallel across the N processes; rank 0 prints and writes the figures. A rank whose example
/// fails stops the whole job with its message.
@main
enum LuzExamplesMain {
    static func main() {
        var group: MPIProcessGroup?
        do {
            group = try MPIProcessGroup.launched()
        } catch {
            FileHandle.standardError.write(Data("luz-examples: \(error)\n".utf8))
            exit(1)
        }
        if let group, group.size > 1 {
            ExampleSettings.processGroup = group
            if group.rank != 0 { _ = freopen("/dev/null", "w", stdout) }
        }
        do {
            var command = try LuzExamplesCommand.parseAsRoot()
            try command.run()
        } catch {
            if let group, group.size > 1, LuzExamplesCommand.exitCode(for: error) != .success {
                group.abort("\(error)")
            }
            LuzExamplesCommand.exit(withError: error)
        }
    }
}

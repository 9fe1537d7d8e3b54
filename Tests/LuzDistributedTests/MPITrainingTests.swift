import Foundation
import Luz
import LuzDistributed
import LuzTestSupport
import Testing

// Data-parallel runs of `luz-distributed-check` under Open MPI's `mpirun`, its processes on this
// machine talking over TCP on loopback (`--mca btl tcp,self`), compared with the same training
// in one process. They need a build with the MPI trait and Open MPI's launcher (`.ci/run`:
// `apt-get install libopenmpi-dev openmpi-bin`, `swift test --traits MPI`); elsewhere they are
// skipped and say so.

/// The `luz-distributed-check` built beside the test runner (`LUZ_DISTRIBUTED_CHECK` if set).
let checkBinary: String? = {
    if let path = ProcessInfo.processInfo.environment["LUZ_DISTRIBUTED_CHECK"] { return path }
    let folder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    for candidate in [folder, folder.deletingLastPathComponent(), folder.deletingLastPathComponent().deletingLastPathComponent()] {
        let path = candidate.appendingPathComponent("luz-distributed-check").path
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    return nil
}()

/// Open MPI's launcher, from the PATH.
let mpirun: String? = {
    for folder in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
        let path = "\(folder)/mpirun"
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    return nil
}()

let mpiRunnable = MPIProcessGroup.isAvailable && mpirun != nil && checkBinary != nil
let mpiSkipReason: Comment = MPIProcessGroup.isAvailable
    ? (mpirun == nil ? "mpirun not found: apt-get install openmpi-bin" : "luz-distributed-check is not built beside the tests")
    : "built without the MPI trait: swift test --traits MPI (with libopenmpi-dev and openmpi-bin)"

struct RunResult {
    let status: Int32
    let output: String
    let errors: String
    let seconds: Double

    /// Rank 0's per-epoch lines.
    var epochLines: [String] { output.split(separator: "\n").map(String.init).filter { $0.hasPrefix("epoch=") } }
}

/// Runs `luz-distributed-check` with `arguments`: under mpirun with `ranks` processes, or
/// directly for `ranks == nil`; ends it after `limit` seconds.
func runCheck(ranks: Int?, _ arguments: [String], in folder: String, limit: Double = 120,
              collectiveTimeout: Int = 20) throws -> RunResult {
    let process = Process()
    if let ranks {
        process.executableURL = URL(fileURLWithPath: mpirun!)
        process.arguments = ["--allow-run-as-root", "--oversubscribe", "-np", String(ranks),
                             "--mca", "btl", "tcp,self", "--mca", "btl_tcp_if_include", "lo",
                             "--mca", "oob_tcp_if_include", "lo", checkBinary!] + arguments
    } else {
        process.executableURL = URL(fileURLWithPath: checkBinary!)
        process.arguments = arguments
    }
    var environment = ProcessInfo.processInfo.environment
    environment["SWIFT_BACKTRACE"] = "enable=no"
    environment["LUZ_MPI_TIMEOUT"] = String(collectiveTimeout)
    // One thread per process, as data-parallel ranks sharing two cores should have.
    environment["LUZ_NUM_THREADS"] = "1"
    process.environment = environment
    process.currentDirectoryURL = URL(fileURLWithPath: folder)
    let outputPath = folder + "/stdout-\(UUID().uuidString).txt", errorPath = folder + "/stderr-\(UUID().uuidString).txt"
    _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
    _ = FileManager.default.createFile(atPath: errorPath, contents: nil)
    process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
    process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errorPath))
    let start = Date()
    try process.run()
    while process.isRunning && Date().timeIntervalSince(start) < limit { usleep(50_000) }
    if process.isRunning { process.terminate() }
    process.waitUntilExit()
    let seconds = Date().timeIntervalSince(start)
    let read = { (path: String) in (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }
    return RunResult(status: process.terminationStatus, output: read(outputPath), errors: read(errorPath), seconds: seconds)
}

/// The weights a run wrote, flattened in the state dict's key order.
func weights(_ path: String) throws -> [Double] {
    let state = try StateDict(contentsOf: path)
    return state.keys.sorted().flatMap { state[$0]!.scalars(as: Double.self) }
}

/// The per-epoch values of rank 0's lines, by name.
func values(_ lines: [String]) -> [[String: Double]] {
    lines.map { line in
        var row: [String: Double] = [:]
        for pair in line.split(separator: " ") {
            let parts = pair.split(separator: "=")
            row[String(parts[0])] = Double(parts[1])
        }
        return row
    }
}

func expectClose(_ a: [Double], _ b: [Double], tolerance: Double, _ what: String,
                 sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(a.count == b.count && !a.isEmpty, "\(what): \(a.count) values against \(b.count)", sourceLocation: sourceLocation)
    let worst = zip(a, b).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? .infinity
    #expect(worst <= tolerance, "\(what): differ by \(worst) (relative)", sourceLocation: sourceLocation)
}

@Suite("Data-parallel training over MPI", .serialized, .enabled(if: mpiRunnable, mpiSkipReason))
struct MPITrainingTests {
    /// 2 and 3 processes with per-process batches of 12 / ranks train as one process with
    /// batches of 12: the same losses, metrics and final weights to float64 rounding, and every
    /// process ends with the same weights.
    @Test(arguments: [2, 3])
    func ranksTrainAsOneProcessWithTheGlobalBatch(ranks: Int) throws {
        let scratch = try TemporaryFolder("luz-ddp")
        defer { scratch.remove() }
        let folder = scratch.path
        let reference = try runCheck(ranks: nil, ["--batch", "12", "--weights", "single"], in: folder)
        try #require(reference.status == 0, "single process: \(reference.errors)")
        let parallel = try runCheck(ranks: ranks, ["--batch", String(12 / ranks), "--weights", "parallel",
                                                   "--seen", "seen", "--bucket-bytes", "600"], in: folder)
        try #require(parallel.status == 0, "\(ranks) ranks: \(parallel.errors)")
        let expected = values(reference.epochLines), got = values(parallel.epochLines)
        #expect(expected.count == 4 && got.count == 4, "\(parallel.output)")
        for (key, _) in expected.first ?? [:] {
            expectClose(got.map { $0[key] ?? .nan }, expected.map { $0[key] ?? .nan }, tolerance: 1e-9, key)
        }
        let single = try weights(folder + "/single-rank0.safetensors")
        for rank in 0..<ranks {
            let mine = try weights(folder + "/parallel-rank\(rank).safetensors")
            expectClose(mine, single, tolerance: 1e-9, "rank \(rank)'s weights against one process")
        }
        // The sampler: per epoch, every one of the 96 examples once across the processes.
        let seen = try (0..<ranks).map { rank in
            try String(contentsOfFile: folder + "/seen-rank\(rank).txt", encoding: .utf8).split(separator: "\n")
        }
        for epoch in 1...4 {
            var ids: [Int] = []
            for lines in seen {
                for line in lines where line.hasPrefix("\(epoch) ") {
                    ids += line.split(separator: " ")[1].split(separator: ",").map { Int($0)! }
                }
            }
            #expect(ids.sorted() == Array(0..<96), "epoch \(epoch): \(ids.count) examples seen")
        }
    }

    /// A process killed in the middle of an epoch: the job ends, not hangs, within 30 s, with
    /// a non-zero status and a message naming the rank.
    @Test func aKilledRankEndsTheJob() throws {
        let scratch = try TemporaryFolder("luz-ddp-kill")
        defer { scratch.remove() }
        let run = try runCheck(ranks: 2, ["--batch", "6", "--kill-rank", "1", "--at-batch", "3"], in: scratch.path, limit: 60)
        #expect(run.status != 0)
        #expect(run.seconds < 30, "took \(run.seconds) s")
        #expect((run.output + run.errors).contains("rank 1"), "\(run.errors)")
    }

    /// A process that stops answering (hung, not dead): the others give up waiting after the
    /// collective timeout, with a message naming the waiting rank, and the job ends.
    @Test func aHungRankEndsTheJobAfterTheTimeout() throws {
        let scratch = try TemporaryFolder("luz-ddp-hang")
        defer { scratch.remove() }
        let run = try runCheck(ranks: 2, ["--batch", "6", "--hang-rank", "1", "--at-batch", "2"], in: scratch.path,
                               limit: 60, collectiveTimeout: 5)
        #expect(run.status != 0)
        #expect(run.seconds >= 5 && run.seconds < 30, "took \(run.seconds) s")
        #expect(run.errors.contains("rank 0 of 2 waited"), "\(run.errors)")
    }

    /// A process whose training throws stops every process, with its message and rank.
    @Test func aRankThatThrowsStopsTheOthers() throws {
        let scratch = try TemporaryFolder("luz-ddp-throw")
        defer { scratch.remove() }
        let run = try runCheck(ranks: 2, ["--batch", "6", "--throw-rank", "1", "--at-batch", "2"], in: scratch.path, limit: 60)
        #expect(run.status != 0)
        #expect(run.seconds < 30, "took \(run.seconds) s")
        #expect(run.errors.contains("rank 1 of 2 stops the job"), "\(run.errors)")
        #expect(run.errors.contains("failed on purpose at epoch 2"), "\(run.errors)")
    }

    /// Each process in its own folder, as on machines that share no disk: only rank 0 writes
    /// checkpoints; a job stopped after epoch 2 and started again resumes every process from
    /// rank 0's file and ends with the uninterrupted job's weights and records.
    @Test func aResumedJobEndsAsTheUninterruptedOne() throws {
        let scratch = try TemporaryFolder("luz-ddp-resume")
        defer { scratch.remove() }
        let folder = scratch.path
        let common = ["--batch", "6", "--auto-resume", "run.ckpt", "--checkpoints", "saved"]
        let whole = try runCheck(ranks: 2, common + ["--workdir-per-rank", folder + "/whole", "--weights", "w"], in: folder)
        try #require(whole.status == 0, "\(whole.errors)")
        let saved = try FileManager.default.contentsOfDirectory(atPath: folder + "/whole/rank0/saved")
        #expect(saved.count == 4, "rank 0 wrote \(saved)")
        #expect(!FileManager.default.fileExists(atPath: folder + "/whole/rank1/saved"), "rank 1 wrote checkpoints")

        let resumed = folder + "/resumed"
        let stopped = try runCheck(ranks: 2, common + ["--workdir-per-rank", resumed, "--stop-after-epoch", "2"], in: folder)
        #expect(stopped.status != 0)
        #expect(FileManager.default.fileExists(atPath: resumed + "/rank0/run.ckpt"))
        #expect(!FileManager.default.fileExists(atPath: resumed + "/rank1/run.ckpt"), "rank 1 wrote the resume file")
        let again = try runCheck(ranks: 2, common + ["--workdir-per-rank", resumed, "--weights", "w", "--seen", "seen"], in: folder)
        try #require(again.status == 0, "\(again.errors)")
        #expect(again.epochLines == whole.epochLines, "\(again.output) against \(whole.output)")
        for rank in 0..<2 {
            #expect(try weights("\(resumed)/rank\(rank)/w-rank\(rank).safetensors")
                    == weights("\(folder)/whole/rank\(rank)/w-rank\(rank).safetensors"), "rank \(rank)")
        }
        // The resumed processes trained epochs 3 and 4 only, and drew the uninterrupted shards.
        let lines = try String(contentsOfFile: resumed + "/rank1/seen-rank1.txt", encoding: .utf8).split(separator: "\n")
        #expect(Set(lines.map { $0.split(separator: " ")[0] }) == ["3", "4"])
    }
}

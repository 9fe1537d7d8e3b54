import Foundation
@testable import Luz
import LuzTestSupport
import Testing

/// The events of a run folder, file after file in name order, as TensorBoard reads them: a
/// session start at step s drops what earlier files hold at s and after.
private func runEvents(_ folder: String) throws -> [TensorBoardEvent] {
    let files = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.contains("tfevents") }.sorted()
    var events: [TensorBoardEvent] = []
    for file in files {
        for event in try readTensorBoardEvents(folder + "/" + file) {
            if event.sessionStart { events.removeAll { $0.fileVersion == nil && $0.step >= event.step } }
            events.append(event)
        }
    }
    return events
}

/// Every scalar of `events` as "tag step value" lines, sorted.
private func scalarLines(_ events: [TensorBoardEvent]) -> [String] {
    events.flatMap { event in event.scalars.map { "\($0.key) \(event.step) \(Float($0.value))" } }.sorted()
}

/// The only run folder under `directory/run`.
private func onlyRun(_ directory: String) throws -> String {
    let runs = try FileManager.default.contentsOfDirectory(atPath: directory + "/run")
    #expect(runs.count == 1, "\(runs)")
    return directory + "/run/" + runs[0]
}

/// A fit whose every value is fixed by seeds (no default generator), logging to `directory`.
private func loggedFit(_ directory: String, epochs: Int = 4, extra: [any Callback] = []) throws -> FittedModel {
    let (x, y) = blobs(count: 96, seed: 5)
    let setup = TrainingSetup(
        model: { _ in
            Sequential { Linear(2, 8, generator: Generator(seed: 1)); ReLU(); Linear(8, 2, generator: Generator(seed: 2)) }
        },
        loss: CrossEntropyLoss(), metrics: [Accuracy()])
    return try setup.hyperparameters(["activation": "relu", "width": 8, "bias": true]).learningRate(0.05)
        .fit(.tensors(x, y, batchSize: 16, shuffle: true), epochs: EpochSpec(epochs), validData: 0.25,
             callbacks: [TensorBoardLogger(logDirectory: directory, logsBatches: true, histogramEvery: 2)] + extra,
             verbose: false, seed: 9)
}

/// Python with TensorBoard's package: `LUZ_TENSORBOARD_PYTHON`, else `python3` if it has it.
private let tensorBoardPython: String? = {
    let candidates = [ProcessInfo.processInfo.environment["LUZ_TENSORBOARD_PYTHON"], "/usr/bin/python3"].compactMap { $0 }
    return candidates.first { python in
        guard FileManager.default.isExecutableFile(atPath: python) else { return false }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-c", "import tensorboard.backend.event_processing.event_accumulator"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }
}()

/// What TensorBoard's own EventAccumulator reads from `folder`: "tag step value" per scalar,
/// "histogram tag step count" per histogram, "text tag" per text.
private func readWithTensorBoard(_ folder: String) throws -> [String] {
    let script = """
    import sys
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    acc = EventAccumulator(sys.argv[1], size_guidance={'scalars': 0, 'histograms': 0, 'tensors': 0})
    acc.Reload()
    tags = acc.Tags()
    for tag in tags['scalars']:
        for e in acc.Scalars(tag): print('%s %d %r' % (tag, e.step, e.value))
    for tag in tags['histograms']:
        for e in acc.Histograms(tag): print('histogram %s %d %d' % (tag, e.step, int(e.histogram_value.num)))
    for tag in tags['tensors']:
        print('text %s' % tag)
    """
    let process = Process()
    process.executableURL = URL(fileURLWithPath: tensorBoardPython!)
    process.arguments = ["-c", script, folder]
    let output = Pipe()
    process.standardOutput = output
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    #expect(process.terminationStatus == 0)
    return String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
}

@Suite("TensorBoard event files")
struct TensorBoardTests {
    @Test func crc32cOfTheStandardCheckString() {
        #expect(crc32c(Array("123456789".utf8)) == 0xE306_9283)
        #expect(crc32c([]) == 0)
    }

    @Test func aFitsEventsReadBack() throws {
        let scratch = try TemporaryFolder("luz-tensorboard")
        defer { scratch.remove() }
        let fitted = try loggedFit(scratch.path)
        let folder = try onlyRun(scratch.path)
        let events = try runEvents(folder)
        #expect(events.first?.fileVersion == "brain.Event:2")
        let batchesPerEpoch = 5   // 72 training examples in batches of 16
        // Every record of every epoch, at the epoch's last batch.
        for row in fitted.records.rows {
            let step = row.epoch * batchesPerEpoch
            let logged = events.first { $0.step == step && $0.scalars["\(row.set)/\(row.metric)"] != nil }
            #expect(logged?.scalars["\(row.set)/\(row.metric)"] == Double(Float(row.value)), "\(row)")
        }
        #expect(events.compactMap { $0.scalars["epoch"] } == [1, 2, 3, 4])
        #expect(events.compactMap { $0.scalars["lr"] }.count == 4)
        #expect(events.compactMap { $0.scalars["batch/loss"] }.count == 4 * batchesPerEpoch)
        // Histograms at epochs 2 and 4, of every parameter and its gradient.
        let histograms = events.filter { !$0.histograms.isEmpty }
        #expect(histograms.map(\.step) == Array(repeating: 2 * batchesPerEpoch, count: 8) + Array(repeating: 4 * batchesPerEpoch, count: 8))
        #expect(histograms.first { $0.histograms["weights/0.weight"] != nil }?.histograms["weights/0.weight"]?.count == 16)
        #expect(histograms.contains { $0.histograms["gradients/2.bias"]?.count == 2 })
        let table = events.first { !$0.texts.isEmpty }?.texts["hyperparameters"] ?? ""
        #expect(table.contains("learning rate 0.05"))
        // Texts, whole numbers and flags, as they were given.
        #expect(table.contains("| activation | relu |") && table.contains("| width | 8 |") && table.contains("| bias | true |"), "\(table)")
    }

    @Test func aDamagedRecordIsNamed() throws {
        let scratch = try TemporaryFolder("luz-tensorboard")
        defer { scratch.remove() }
        let writer = try TensorBoardEventWriter(directory: scratch.path)
        try writer.addScalar("a", value: 1, step: 1)
        try writer.flush()
        var bytes = [UInt8](FileManager.default.contents(atPath: writer.path)!)
        bytes[bytes.count - 6] ^= 0xFF
        try Data(bytes).write(to: URL(fileURLWithPath: writer.path))
        #expect(throws: TensorBoardReadError.self) { try readTensorBoardEvents(writer.path) }
        // A record cut short ends the file (a writer killed mid-record).
        try Data(bytes.prefix(bytes.count - 3)).write(to: URL(fileURLWithPath: writer.path))
        #expect(try readTensorBoardEvents(writer.path).count == 1)
    }

    @Test func aResumedRunReadsAsTheUninterruptedOne() throws {
        let scratch = try TemporaryFolder("luz-tensorboard")
        defer { scratch.remove() }
        _ = try loggedFit(scratch.path + "/whole", epochs: 6)
        let checkpoint = scratch.path + "/auto.ckpt"
        #expect(throws: CallbackError.self) {
            try loggedFit(scratch.path + "/killed", epochs: 6, extra: [AutoResume(path: checkpoint), killer(at: .epochFive)])
        }
        _ = try loggedFit(scratch.path + "/killed", epochs: 6, extra: [AutoResume(path: checkpoint)])
        let whole = try onlyRun(scratch.path + "/whole"), killed = try onlyRun(scratch.path + "/killed")
        let files = try FileManager.default.contentsOfDirectory(atPath: killed).filter { $0.contains("tfevents") }
        #expect(files.count == 2)
        #expect(scalarLines(try runEvents(killed)) == scalarLines(try runEvents(whole)))
        if tensorBoardPython != nil {
            #expect(try readWithTensorBoard(killed).sorted() == readWithTensorBoard(whole).sorted())
        }
    }

    @Test(.enabled(if: tensorBoardPython != nil, "needs Python with the tensorboard package (LUZ_TENSORBOARD_PYTHON)"))
    func tensorBoardReadsOurFiles() throws {
        let scratch = try TemporaryFolder("luz-tensorboard")
        defer { scratch.remove() }
        let fitted = try loggedFit(scratch.path)
        let lines = try readWithTensorBoard(try onlyRun(scratch.path))
        for row in fitted.records.rows {
            #expect(lines.contains("\(row.set)/\(row.metric) \(row.epoch * 5) \(Double(Float(row.value)))"), "\(row)")
        }
        #expect(lines.filter { $0.hasPrefix("batch/loss ") }.count == 20)
        #expect(lines.contains("histogram weights/0.weight 10 16"))
        #expect(lines.contains("histogram gradients/2.bias 20 2"))
        #expect(lines.contains("text hyperparameters"))
    }
}

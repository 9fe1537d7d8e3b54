import Foundation
@testable import LuzPlot
@_spi(FaultInjection) import LuzSerialization
import Testing

@Suite("Figure writes under write faults")
struct FigureWriteFaultTests {
    @Test func aFailedWriteKeepsThePreviousFigureAndNamesTheFile() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("luz-figure-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/curves.svg"
        try Figure(Plot(title: "first").line(x: [0.0, 1], y: [0.0, 1]), width: 200, height: 100).write(to: path)
        let before = try String(contentsOfFile: path, encoding: .utf8)
        #expect(throws: PlotError.writeFailed(path: path, reason: "cannot write the temporary file: No space left on device")) {
            try AtomicFileWriter.injectingFault(.fail(.write, code: ENOSPC), intoWritesUnder: folder) {
                try Figure(Plot(title: "second").line(x: [0.0, 1], y: [1.0, 0]), width: 200, height: 100).write(to: path)
            }
        }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == before)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["curves.svg"])
    }
}

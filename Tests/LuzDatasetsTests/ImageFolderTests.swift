import Foundation
import LuzData
@testable import LuzDatasets
import LuzTensor
import Testing

/// The `DatasetError.invalidImage` fields of an error, or `nil`.
func imageError(_ error: any Error) -> (file: String, field: String, reason: String)? {
    guard case let .invalidImage(file, field, reason)? = error as? DatasetError else { return nil }
    return (file, field, reason)
}

@Suite("ImageFolder and PGM / PPM files")
struct ImageFolderTests {
    static func write(_ bytes: [UInt8], to url: URL) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try bytes.write(to: url)
    }

    static func write(_ text: String, to url: URL) throws { try write(Array(text.utf8), to: url) }

    @Test("PGM and PPM, binary and plain, with comments, maxvals 255, 15 and 65535")
    func decoding() throws {
        // Binary PGM, 3 wide and 2 high; a comment in the header, and a first sample that is
        // itself a whitespace byte (10).
        let p5 = try PNM.image(decoding: Array("P5\n# made by hand\n3 2\n255\n".utf8) + [10, 20, 30, 40, 50, 255])
        #expect(p5 == Image(height: 2, width: 3, channels: 1, pixels: [10, 20, 30, 40, 50, 255]))
        // Plain PPM, 2 × 1, comments between fields and samples spread over lines.
        let p3 = try PNM.image(decoding: Array("P3 #rgb\n2 # width\n1\n255\n1 2 3\n\n  4 5\t6\n".utf8))
        #expect(p3 == Image(height: 1, width: 2, channels: 3, pixels: [1, 2, 3, 4, 5, 6]))
        // maxval 15: scaled to 0...255 with rounding (7 × 255 / 15 = 119).
        let p2 = try PNM.image(decoding: Array("P2\n2 2\n15\n0 7\n15 1\n".utf8))
        #expect(p2.pixels == [0, 119, 255, 17])
        // 16-bit binary PPM: big-endian samples, 65535 → 255, 32768 → 128.
        let p6 = try PNM.image(decoding: Array("P6 1 1 65535\n".utf8) + [0xff, 0xff, 0x80, 0x00, 0x00, 0x00])
        #expect(p6 == Image(height: 1, width: 1, channels: 3, pixels: [255, 128, 0]))
        // What encoded writes reads back.
        #expect(try PNM.image(decoding: PNM.encoded(p3)) == p3)
        #expect(try PNM.image(decoding: PNM.encoded(p5)) == p5)
    }

    @Test("malformed files name the file and the field",
          arguments: [
              ("P7\n1 1\n255\n", "magic", "expected P2, P3, P5 or P6"),
              ("P4\n1 1\n", "magic", "PBM"),
              ("P5\nabc 1\n255\n", "width", "expected a decimal number"),
              ("P5\n2 0\n255\n", "height", "at least 1"),
              ("P5\n2 2\n70000\n", "maxval", "larger than 65535"),
              ("P5\n2 2\n", "maxval", "missing"),
              ("P5\n2 2\n255\n\u{1}\u{2}", "data", "truncated: 2 × 2 bytes = 4 bytes of samples announced, 2 found"),
              ("P2\n2 2\n255\n1 2 3", "data", "truncated: 4 samples announced, 3 found"),
              ("P2\n1 1\n100\n200\n", "data", "sample 200 of pixel (row 0, column 0) exceeds the maxval 100"),
              ("P3\n1 1\n255\n1 x 3\n", "data", "sample 1: expected a decimal number"),
          ])
    func malformed(text: String, field: String, reason: String) {
        #expect { try PNM.image(decoding: Array(text.utf8), name: "bad.pgm") } throws: { error in
            guard let found = imageError(error) else { return false }
            return found.file == "bad.pgm" && found.field == field && found.reason.contains(reason)
        }
    }

    /// root/cat/a.pgm, root/cat/sub/b.pgm, root/dog/c.ppm, root/dog/d.PPM, and files to ignore.
    static func makeFolder(_ root: URL) throws {
        try write(Array("P5\n2 1\n255\n".utf8) + [0, 255], to: root.appendingPathComponent("cat/a.pgm"))
        try write("P2\n# plain\n2 1\n255\n51 102\n", to: root.appendingPathComponent("cat/sub/b.pgm"))
        try write(Array("P6\n1 2\n255\n".utf8) + [1, 2, 3, 4, 5, 6], to: root.appendingPathComponent("dog/c.ppm"))
        try write("P3 1 1 15 15 0 5\n", to: root.appendingPathComponent("dog/d.PPM"))
        try write("not an image", to: root.appendingPathComponent("dog/notes.txt"))
        try write("P5 1 1 255 x", to: root.appendingPathComponent("dog/.hidden.pgm"))
        try write("P5 1 1 255 x", to: root.appendingPathComponent(".cache/e.pgm"))
        try write("P5 1 1 255 x", to: root.appendingPathComponent("loose.pgm"))
    }

    @Test("classes are the sorted subfolders; images in torchvision's order; values exact")
    func folder() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        try Self.makeFolder(dir.url)
        let dataset = try ImageFolder(root: dir.url)
        #expect(dataset.classes == ["cat", "dog"] && dataset.classToIndex == ["cat": 0, "dog": 1])
        #expect(dataset.samples.map { $0.url.path.replacingOccurrences(of: dir.url.path + "/", with: "") }
                == ["cat/a.pgm", "cat/sub/b.pgm", "dog/c.ppm", "dog/d.PPM"])
        #expect(dataset.targets == [0, 0, 1, 1] && dataset.count == 4)
        let first = dataset[0]
        #expect(first.input.shape == [1, 1, 2] && first.input.scalars(as: Float.self) == [0, 1])
        #expect(first.target.shape == [] && first.target.item(as: Int64.self) == 0)
        #expect(dataset[1].input.scalars(as: Float.self) == [Float(51) / 255, Float(102) / 255])
        // A PPM becomes channel-first: [3, height 2, width 1].
        let rgb = dataset[2]
        #expect(rgb.input.shape == [3, 2, 1])
        #expect(rgb.input.scalars(as: Float.self) == [1, 4, 2, 5, 3, 6].map { Float($0) / 255 })
        #expect(rgb.target.item(as: Int64.self) == 1)
        #expect(dataset[3].input.scalars(as: Float.self) == [1, 0, Float(85) / 255])
        #expect(try dataset.image(at: 3) == Image(height: 1, width: 1, channels: 3, pixels: [255, 0, 85]))
        let loader = try DataLoader(ImageFolder(root: dir.url, transform: Transform { _ in Tensor([Float](repeating: 1, count: 4), shape: [1, 2, 2]) }),
                                batchSize: 4)
        #expect(loader.map(\.input.shape) == [[4, 1, 2, 2]])
        #expect(loader.map { $0.target.scalars(as: Int64.self) } == [[0, 0, 1, 1]])
    }

    @Test("a damaged file is reported when the dataset is made, by its path and field")
    func damagedFiles() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        try Self.makeFolder(dir.url)
        try Self.write(Array("P6\n4 4\n255\n".utf8) + [1, 2, 3], to: dir.url.appendingPathComponent("dog/e.ppm"))
        #expect { try ImageFolder(root: dir.url) } throws: { error in
            imageError(error)?.file == "dog/e.ppm" && imageError(error)?.field == "data"
                && imageError(error)?.reason.contains("truncated") == true
        }
        try Self.write("P6\n4 four\n255\n", to: dir.url.appendingPathComponent("dog/e.ppm"))
        #expect { try ImageFolder(root: dir.url) } throws: { error in
            imageError(error)?.file == "dog/e.ppm" && imageError(error)?.field == "height"
        }
        // A header past the first 4 KiB (a long comment) is still read whole.
        try Self.write("P5\n#" + String(repeating: "c", count: 5000) + "\n1 1\n255\n\u{7}", to: dir.url.appendingPathComponent("dog/e.ppm"))
        let dataset = try ImageFolder(root: dir.url)
        #expect(try dataset.image(at: 4) == Image(height: 1, width: 1, pixels: [7]))
    }

    @Test("a custom loader, other extensions; empty classes and missing roots are refused")
    func loaderAndErrors() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        try Self.write("x", to: dir.url.appendingPathComponent("b/one.raw"))
        try Self.write("yy", to: dir.url.appendingPathComponent("a/two.RAW"))
        let dataset = try ImageFolder(
            root: dir.url, targetTransform: Transform { Tensor([Float($0) * 10]) }, extensions: ["raw"],
            loader: { url in
                let size = try Data(contentsOf: url).count
                return Image(height: 1, width: size, pixels: [UInt8](repeating: 255, count: size))
            })
        #expect(dataset.classes == ["a", "b"] && dataset.count == 2)
        #expect(dataset[0].input.shape == [1, 1, 2] && dataset[0].target.scalars(as: Float.self) == [0])
        #expect(dataset[1].input.shape == [1, 1, 1] && dataset[1].target.scalars(as: Float.self) == [10])

        try FileManager.default.createDirectory(at: dir.url.appendingPathComponent("c"), withIntermediateDirectories: true)
        #expect { try ImageFolder(root: dir.url, extensions: ["raw"], loader: { _ in Image(height: 1, width: 1, pixels: [0]) }) } throws: { error in
            guard case let .notFound(_, hint)? = error as? DatasetError else { return false }
            return hint.contains("class folder c") && hint.contains(".raw")
        }
        #expect { try ImageFolder(root: dir.url.appendingPathComponent("missing")) } throws: { error in
            guard case let .notFound(file, _)? = error as? DatasetError else { return false }
            return file.hasSuffix("missing")
        }
    }
}

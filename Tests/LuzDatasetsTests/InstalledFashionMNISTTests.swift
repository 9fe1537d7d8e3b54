import Foundation
@testable import LuzDatasets
import Testing

/// `FashionMNIST()` reads a system-installed copy (Debian's folder, here a temporary stand-in)
/// in place, verified, before the network and without filling the cache.
@Suite("Fashion-MNIST from an installed folder")
struct InstalledFashionMNISTTests {
    /// A cache (`LUZ_DATA_DIR`), an installed folder holding small valid files, and a mirror
    /// that holds nothing, so that any download attempt fails.
    struct Folders {
        let cache: TemporaryDirectory
        let installed: TemporaryDirectory
        let emptyMirror: TemporaryDirectory
        let pixels: [UInt8]
        let labels: [UInt8]

        init() throws {
            cache = try TemporaryDirectory()
            installed = try TemporaryDirectory()
            emptyMirror = try TemporaryDirectory()
            (pixels, labels) = try MNISTTests.makeCache(in: installed.url, folder: "fashion-mnist", count: 30)
        }

        var systemFolder: URL { installed.url.appendingPathComponent("fashion-mnist", isDirectory: true) }

        func downloader(verifying: Bool) -> Downloader {
            Downloader(environment: ["LUZ_DATA_DIR": cache.url.path, "LUZ_DATASET_MIRROR": emptyMirror.url.absoluteString],
                       showsProgress: false, verifiesCachedFiles: verifying)
        }

        func cleanup() { cache.cleanup(); installed.cleanup(); emptyMirror.cleanup() }
    }

    @Test("default arguments read the installed files in place: no download, no cache entry, no stamp")
    func readsInstalledCopy() throws {
        let folders = try Folders()
        defer { folders.cleanup() }
        let before = folders.installed.contents(of: "fashion-mnist")
        // download: true and a mirror that has nothing: a fetch would throw.
        let train = try FashionMNIST(download: true, downloader: folders.downloader(verifying: false),
                                     systemFolder: folders.systemFolder)
        let test = try FashionMNIST(split: .test, downloader: folders.downloader(verifying: false),
                                    systemFolder: folders.systemFolder)
        #expect(train.count == 30 && test.count == 7)
        #expect(train[4].input.scalars(as: Float.self) == folders.pixels[4 * 784..<5 * 784].map { Float($0) / 255 })
        #expect(train[4].target.item(as: Int64.self) == Int64(folders.labels[4]))
        #expect(folders.cache.contents().isEmpty)
        #expect(folders.installed.contents(of: "fashion-mnist") == before)
    }

    @Test("installed files are verified: files that are not the published ones are refused, naming the copy")
    func verifiesInstalledCopy() throws {
        let folders = try Folders()
        defer { folders.cleanup() }
        do {
            _ = try FashionMNIST(downloader: folders.downloader(verifying: true), systemFolder: folders.systemFolder)
            Issue.record("fake files passed the published checksums")
        } catch let error as DatasetError {
            guard case .io(let file, let reason) = error else {
                Issue.record("unexpected error \(error)")
                return
            }
            #expect(file == "train-images-idx3-ubyte.gz")
            #expect(reason.contains("the installed copy \(folders.systemFolder.appendingPathComponent(file).path)"), "\(reason)")
        }
        #expect(folders.cache.contents().isEmpty)
    }

    @Test("the cache comes first, and an explicit root ignores the installed folder")
    func cacheAndRootComeFirst() throws {
        let folders = try Folders()
        defer { folders.cleanup() }
        _ = try MNISTTests.makeCache(in: folders.cache.url, folder: "fashion-mnist", count: 12)
        let cached = try FashionMNIST(downloader: folders.downloader(verifying: false), systemFolder: folders.systemFolder)
        #expect(cached.count == 12)
        let root = try TemporaryDirectory()
        defer { root.cleanup() }
        #expect(throws: DatasetError.self) {
            try FashionMNIST(root: root.url, downloader: folders.downloader(verifying: false),
                             systemFolder: folders.systemFolder)
        }
    }

    @Test("the default installed folder is Debian's")
    func debianFolder() {
        #expect(FashionMNIST.debianFolder.path == "/usr/share/datasets/fashion-mnist")
    }
}

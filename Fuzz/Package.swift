// swift-tools-version:6.0
import PackageDescription

// libFuzzer targets for Luz's parsers, one executable per parser. Build and run them with
// `Fuzz/run.sh [seconds]` (Linux; the toolchain's libFuzzer and AddressSanitizer):
//
//   swift build -c release --scratch-path .build-fuzz -Xswiftc -sanitize=fuzzer,address
//
// A separate package so that the sanitizer flags and the linker choice never reach the main
// package's builds.

// SwiftPM links executables with `--defsym main=<module>_main`, so libFuzzer's own `main` is
// replaced by the target's top-level code, which hands control to libFuzzer through
// `LLVMFuzzerRunDriver` (see FuzzSupport). GNU gold crashes on that link ("internal error in
// format_file_lineno"); lld, shipped with the Swift toolchain, links it.
let linker: [LinkerSetting] = [.unsafeFlags(["-use-ld=lld"], .when(platforms: [.linux]))]

func fuzzTarget(_ name: String, _ products: [String]) -> Target {
    .executableTarget(
        name: name,
        dependencies: ["FuzzSupport"] + products.map { .product(name: $0, package: "Luz") },
        linkerSettings: linker)
}

let package = Package(
    name: "LuzFuzz",
    dependencies: [.package(name: "Luz", path: "..")],
    targets: [
        .target(name: "FuzzSupport"),
        fuzzTarget("fuzz-idx", ["LuzDatasets"]),
        fuzzTarget("fuzz-gzip", ["LuzDatasets"]),
        fuzzTarget("fuzz-csv", ["LuzDatasets"]),
        fuzzTarget("fuzz-tar", ["LuzDatasets"]),
        fuzzTarget("fuzz-pnm", ["LuzDatasets"]),
        fuzzTarget("fuzz-safetensors", ["LuzNN"]),
        fuzzTarget("fuzz-checkpoint", ["Luz"]),
    ],
    swiftLanguageModes: [.v5]
)

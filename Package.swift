// swift-tools-version:6.2
import PackageDescription

// Luz: tensors with reverse-mode autograd, neural-network modules, optimizers, data loading and a
// luz-style training pipeline, in pure Swift over zlib. Matrix products run on a BLAS library
// found at run time (OpenBLAS, BLIS, MKL, any libblas.so.3; Accelerate on Apple platforms) or
// on Luz's own GEMM: nothing but the Swift toolchain and zlib is needed to build.
//
// Layers (each target depends only on those above it in this list):
//   CLuzBLAS, CZlib → LuzTensor → LuzNN → LuzOptim → LuzData → Luz → LuzDistributed → LuzDatasets
//   → LuzPlot → Examples
//
// The MPI trait (`swift build --traits MPI`) builds LuzDistributed's transport against Open MPI
// (Debian's libopenmpi-dev, found through pkg-config); without it, the default, nothing needs MPI.
#if canImport(Darwin)
let blasDependencies: [Target.Dependency] = []
let blasLinker: [LinkerSetting] = [.linkedFramework("Accelerate")]
#else
let blasDependencies: [Target.Dependency] = ["CLuzBLAS"]
let blasLinker: [LinkerSetting] = []
#endif

let package = Package(
    name: "Luz",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "LuzTensor", targets: ["LuzTensor"]),
        .library(name: "LuzSerialization", targets: ["LuzSerialization"]),
        .library(name: "LuzNN", targets: ["LuzNN"]),
        .library(name: "LuzOptim", targets: ["LuzOptim"]),
        .library(name: "LuzData", targets: ["LuzData"]),
        .library(name: "Luz", targets: ["Luz"]),
        .library(name: "LuzDatasets", targets: ["LuzDatasets"]),
        .library(name: "LuzModels", targets: ["LuzModels"]),
        .library(name: "LuzPlot", targets: ["LuzPlot"]),
        .library(name: "LuzDistributed", targets: ["LuzDistributed"]),
        .executable(name: "luz-bench", targets: ["luz-bench"]),
        .executable(name: "luz-examples", targets: ["luz-examples"]),
    ],
    traits: [
        .trait(name: "MPI", description: "Data-parallel training over Open MPI (LuzDistributed's MPIProcessGroup); needs libopenmpi-dev."),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
    ],
    targets: [
        // The BLAS loader and Luz's own GEMM. Its kernels are optimized in every build
        // configuration: at a debug build's -O0 the built-in GEMM is eleven times slower (512³ on
        // one core: 7.9 against 89.7 GFLOP/s), and so is every test that runs on it.
        .target(
            name: "CLuzBLAS",
            cSettings: [.unsafeFlags(["-O3"])],
            linkerSettings: [.linkedLibrary("dl", .when(platforms: [.linux]))]),
        .systemLibrary(
            name: "CZlib", path: "Sources/CZlib",
            pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),

        .target(name: "LuzTensor", dependencies: blasDependencies, linkerSettings: blasLinker),
        .target(name: "LuzSerialization", dependencies: ["LuzTensor"]),
        .target(name: "LuzNN", dependencies: ["LuzTensor", "LuzSerialization"]),
        .target(name: "LuzOptim", dependencies: ["LuzTensor", "LuzSerialization"]),
        .target(name: "LuzData", dependencies: ["LuzTensor"]),
        .target(name: "Luz", dependencies: ["LuzTensor", "LuzSerialization", "LuzNN", "LuzOptim", "LuzData"]),
        .target(
            name: "LuzDatasetsResources", path: "Datasets",
            exclude: ["make_luz_reviews.py"], sources: ["PackageData.swift"],
            resources: [.copy("penguins.csv"), .copy("luz-docs.txt"), .copy("luz-reviews.csv")]),
        .target(
            name: "LuzDatasets",
            dependencies: [
                "LuzTensor", "LuzSerialization", "LuzData", "CZlib", "LuzDatasetsResources",
                .product(name: "Crypto", package: "swift-crypto"),
            ]),
        // Open MPI's headers and library, used only with the MPI trait.
        .systemLibrary(
            name: "CMPI", path: "Sources/CMPI",
            pkgConfig: "ompi-c", providers: [.apt(["libopenmpi-dev"])]),
        // The MPI calls Luz needs as plain C functions (MPI's handles are macros); without the
        // trait every call reports that MPI is absent.
        .target(
            name: "CLuzMPI",
            dependencies: [.target(name: "CMPI", condition: .when(traits: ["MPI"]))],
            cSettings: [.define("LUZ_MPI", .when(traits: ["MPI"]))]),
        // Data-parallel training across processes: the MPI process group.
        .target(name: "LuzDistributed", dependencies: ["Luz", "CLuzMPI"]),
        .target(name: "LuzPlot", dependencies: ["Luz", "LuzSerialization"]),
        // Ready-made architectures read from other ecosystems' model folders (BERT-family encoders).
        .target(name: "LuzModels", dependencies: ["LuzTensor", "LuzSerialization", "LuzNN", "LuzOptim", "LuzData"]),
        .target(name: "LuzTestSupport", dependencies: ["LuzTensor"]),
        // Misuses that must stop with a message; the tests run its release build (ReleaseMessageTests).
        .executableTarget(name: "luz-check", dependencies: ["Luz"]),
        .executableTarget(name: "luz-bench", dependencies: ["LuzTensor", "LuzNN", "LuzOptim", "Luz", "LuzData", "LuzDatasets", "LuzModels", "LuzDistributed"]),
        // The data-parallel runs that LuzDistributedTests launch under mpirun.
        .executableTarget(name: "luz-distributed-check", dependencies: ["Luz", "LuzDistributed"]),
        // The Little Book examples: the examples as a library (so tests can run them) and the
        // `luz-examples` command that runs them.
        .target(
            name: "LuzExamples",
            dependencies: [
                "Luz", "LuzDatasets", "LuzPlot", "LuzModels", "LuzDistributed",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Examples/LuzExamples"),
        .executableTarget(name: "luz-examples", dependencies: ["LuzExamples", "LuzDistributed"], path: "Examples/luz-examples"),

        .testTarget(name: "LuzTensorTests", dependencies: ["LuzTensor", "LuzSerialization", "LuzTestSupport"] + blasDependencies),
        .testTarget(name: "LuzNNTests", dependencies: ["LuzNN", "LuzSerialization", "LuzTestSupport"],
                    exclude: ["Fixtures/make_recurrent_fixtures.py", "Fixtures/make_transposed_convolution_fixtures.py",
                              "Fixtures/make_pooling_fixtures.py", "Fixtures/safetensors_writer.py"],
                    resources: [.copy("Fixtures/recurrent.safetensors"), .copy("Fixtures/transposed_convolution.safetensors"),
                                .copy("Fixtures/pooling.safetensors")]),
        .testTarget(name: "LuzOptimTests", dependencies: ["LuzOptim", "LuzNN", "LuzTestSupport"]),
        .testTarget(name: "LuzDataTests", dependencies: ["LuzData", "LuzTestSupport"],
                    exclude: ["Fixtures/make_wordpiece_fixture.py"],
                    resources: [.copy("Fixtures/wordpiece_fixture.json")]),
        .testTarget(name: "LuzTests", dependencies: ["Luz", "LuzSerialization", "LuzTestSupport"]),
        .testTarget(name: "LuzPlotTests", dependencies: ["LuzPlot", "Luz", "LuzSerialization"]),
        .testTarget(name: "LuzDatasetsTests", dependencies: ["LuzDatasets", "LuzData", "LuzSerialization", "LuzTestSupport"]),
        .testTarget(name: "LuzModelsTests", dependencies: ["LuzModels", "Luz", "LuzData", "LuzNN", "LuzSerialization", "LuzTestSupport"],
                    exclude: ["Fixtures/make_minilm_fixture.py"],
                    resources: [.copy("Fixtures/minilm_fixture.safetensors")]),
        .testTarget(name: "LuzDistributedTests", dependencies: ["LuzDistributed", "Luz", "LuzTestSupport"]),
        .testTarget(name: "LuzExamplesTests", dependencies: ["LuzExamples", "Luz", "LuzDatasets", "LuzPlot", "LuzModels", "LuzDistributed", "LuzTestSupport"]),
    ],
    swiftLanguageModes: [.v5]
)

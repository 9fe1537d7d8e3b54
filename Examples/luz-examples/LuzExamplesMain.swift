import LuzExamples

/// The `luz-examples` executable: the examples live in the LuzExamples library, so that tests
/// can run them; this only hands the command line to it.
@main
enum LuzExamplesMain {
    static func main() {
        LuzExamplesCommand.main()
    }
}

import Foundation
import LuzDatasets
import LuzTestSupport
import Testing

@Suite("The shipped short reviews")
struct ShortReviewsTests {
    @Test("288 reviews, 36 subjects of 8, the classes balanced within every subject; every adjective in both classes")
    func shippedFacts() throws {
        let reviews = try ShortReviews()
        #expect(reviews.count == 288)
        #expect(Set(reviews.subjects) == Set(0..<36))
        for subject in 0..<36 {
            let labels = reviews.subjects.indices.filter { reviews.subjects[$0] == subject }.map { reviews.labels[$0] }
            #expect(labels.count == 8 && labels.filter { $0 == 1 }.count == 4, "subject \(subject)")
        }
        // No word on its own gives the class away: each adjective is in both.
        for word in ["good", "awful", "reliable", "stale", "dull", "friendly"] {
            let classes = Set(reviews.texts.indices.filter { reviews.texts[$0].contains(" \(word)") }.map { reviews.labels[$0] })
            #expect(classes == [0, 1], "\(word)")
        }
        #expect(reviews.texts.contains("I expected the soup to be unpleasant, but it was pleasant."))
    }

    @Test("the split holds out the last subjects whole")
    func splitBySubject() throws {
        let reviews = try ShortReviews()
        let (train, valid) = reviews.split(validationSubjects: 8)
        #expect(train.texts.count == 224 && valid.texts.count == 64)
        #expect(valid.texts.allSatisfy { !train.texts.contains($0) })
        #expect(valid.labels.filter { $0 == 1 }.count == 32)
    }

    @Test("a bad file is an error naming the file, the row and the column")
    func badFiles() throws {
        let folder = try TemporaryFolder("luz-reviews")
        defer { folder.remove() }
        func error(_ text: String) -> String {
            let url = URL(fileURLWithPath: folder.path).appendingPathComponent("reviews.csv")
            try? text.write(to: url, atomically: true, encoding: .utf8)
            do { _ = try ShortReviews(contentsOf: url); return "no error" } catch { return String(describing: error) }
        }
        let label = error("text,label,subject\nFine.,1,0\nBad.,2,0\n")
        #expect(label.contains("reviews.csv") && label.contains("row 2") && label.contains("'label'"), "\(label)")
        let subject = error("text,label,subject\nFine.,1,x\n")
        #expect(subject.contains("row 1") && subject.contains("'subject'"), "\(subject)")
        let missing = error("text,label\nFine.,1\n")
        #expect(missing.contains("subject"), "\(missing)")
    }
}

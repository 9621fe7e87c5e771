#if Postgres
    @testable import PostgresStore
    import XCTest

    /// A commit's notification payload (`"first last node"`), with the server process that sent
    /// it. Anything else, however it is garbled, makes the follower read the feed.
    final class FeedNoteTests: XCTestCase {
        func testAWellFormedNoteIsRead() throws {
            let note = try XCTUnwrap(Note("41 48 -8707067737719102282", sender: 4242))
            XCTAssertEqual(note.first, 41)
            XCTAssertEqual(note.last, 48)
            XCTAssertEqual(note.node, -8_707_067_737_719_102_282)
            XCTAssertEqual(note.sender, 4242)
            XCTAssertNotNil(Note("7 7 1", sender: 1), "one event: first and last are the same")
        }

        func testHostilePayloadsAreNotNotes() {
            let hostile = [
                "", " ", "42", "41 48", "41 48 1 2", "48 41 1", "a b c", "41  48 1", "41 48 1 ", " 41 48 1",
                "99999999999999999999 1 1", "1 2 0x10", "1\t2\t3", "1 2 3\n{}", "-", "1 2 \u{0}",
                String(repeating: "9", count: 8000),
            ]
            for payload in hostile { XCTAssertNil(Note(payload, sender: 1), "\(payload.debugDescription)") }
        }
    }
#endif

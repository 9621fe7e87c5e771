import Foundation
import XCTest

@testable import tern

final class TOMLReaderTests: XCTestCase {
    func testReadsTablesStringsIntegersBooleansAndComments() throws {
        let text = """
            # tern.toml
            [relay]
            name = "tern \\"test\\" relay\\t\\u00e9\\U0001F426"   # a comment after a value
            description = 'C:\\no\\escapes # here'
            "contact" = "mailto:op@example.com"

              [ limits ]\r
            max_limit = 1_000
            max_filters = +10
            created_at_lower_limit = 0
            outbound_budget = 0x10000
            max_event_tags = 0o17
            max_subid_length = 0b1000000
            [policy]
            accept_protected_events = true
            auth_required_for_reads=false
            """
        let entries = try TOMLReader.read(text)
        let found = entries.map { "\($0.section).\($0.key)=\($0.value.text)" }
        XCTAssertEqual(
            found,
            [
                "relay.name=tern \"test\" relay\té🐦",
                "relay.description=C:\\no\\escapes # here",
                "relay.contact=mailto:op@example.com",
                "limits.max_limit=1000",
                "limits.max_filters=10",
                "limits.created_at_lower_limit=0",
                "limits.outbound_budget=65536",
                "limits.max_event_tags=15",
                "limits.max_subid_length=64",
                "policy.accept_protected_events=true",
                "policy.auth_required_for_reads=false",
            ])
        XCTAssertEqual(entries[0].value, .string("tern \"test\" relay\té🐦"))
        XCTAssertEqual(entries[3].value, .integer(1000))
        XCTAssertEqual(entries[3].line, 8)
        XCTAssertEqual(entries[9].value, .boolean(true))
        XCTAssertEqual(
            try TOMLReader.read("[a]\nn = -5\n"), [.init(section: "a", key: "n", value: .integer(-5), line: 2)])
        XCTAssertEqual(try TOMLReader.read(""), [])
    }

    func testRefusesWhatItDoesNotSupportOrTOMLForbidsWithTheLine() {
        let cases: [(String, Int, String)] = [
            ("[a]\nx = [1, 2]", 2, "arrays and inline tables are not supported"),
            ("[a]\nx = { y = 1 }", 2, "arrays and inline tables are not supported"),
            ("[a]\nx = 1.5", 2, "floats and dates are not supported"),
            ("[a]\nx = 1e3", 2, "floats and dates are not supported"),
            ("[a]\nx = 07:32:00", 2, "floats and dates are not supported"),
            ("[a]\nx = \"\"\"many\nlines\"\"\"", 2, "multi-line strings are not supported"),
            ("[a]\nb.c = 1", 2, "dotted keys are not supported"),
            ("[a.b]\n", 1, "nested tables are not supported"),
            ("[[a]]\n", 1, "arrays of tables ([[...]]) are not supported"),
            ("x = 1\n", 1, "x is outside a [section] table"),
            ("[a]\nx = 1\nx = 2", 3, "a.x is set twice"),
            ("[a]\n[b]\n[a]", 3, "table [a] is defined twice"),
            ("[a]\nx = \"open", 2, "unterminated string"),
            ("[a]\nx = 'open", 2, "unterminated string"),
            ("[a]\nx = \"bad \\q\"", 2, "invalid escape \\q"),
            ("[a]\nx = \"\\uZZZZ\"", 2, "invalid \\u escape"),
            ("[a]\nx = \"\\uD800\"", 2, "invalid \\u escape"),
            ("[a]\nx = 1 2", 2, "unexpected text after the value of x"),
            ("[a]\nx = 1__0", 2, "misplaced _ in a number"),
            ("[a]\nx = _1", 2, "expected a string, integer or boolean"),
            ("[a]\nx = 1_", 2, "malformed number"),
            ("[a]\nx = 012", 2, "leading zeros are not allowed in a number"),
            ("[a]\nx = 0x-1", 2, "malformed number"),
            ("[a]\nx = 99999999999999999999", 2, "malformed or out-of-range number"),
            ("[a]\nx = yes", 2, "expected a string, integer or boolean"),
            ("[a]\nx = truely", 2, "expected a string, integer or boolean"),
            ("[a]\nx =", 2, "missing value after ="),
            ("[a]\nx 1", 2, "expected = after the key x"),
            ("[a] junk", 1, "unexpected text after [a]"),
            ("[a\n", 1, "expected ] to close the table name"),
            ("[a]\n= 1", 2, "expected a key or a [section]"),
            ("[a]\nx = \"tab\u{01}\"", 2, "control character in a string"),
        ]
        for (text, line, reason) in cases {
            XCTAssertThrowsError(try TOMLReader.read(text), text) { error in
                let failure = error as? TOMLReader.Failure
                XCTAssertEqual(failure?.line, line, text)
                XCTAssertTrue(failure?.reason.hasPrefix(reason) == true, "\(text): \(String(describing: failure))")
            }
        }
    }

    func testConfigurationFileAppliesSettingsAndNamesTheBadOne() throws {
        let path = NSTemporaryDirectory() + "tern-toml-\(UInt64.random(in: 0...UInt64.max)).toml"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try "[relay]\nname = \"from the file\"\n[limits]\nmax_limit = 42\n[policy]\nauth_required_for_reads = true\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        var configuration = Configuration()
        try configuration.apply(tomlFile: path)
        XCTAssertEqual(configuration.info.name, "from the file")
        XCTAssertEqual(configuration.limits.maxLimit, 42)
        XCTAssertTrue(configuration.policy.authRequiredForReads)

        try "[limits]\nmax_limit = true\n".write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try configuration.apply(tomlFile: path)) { error in
            XCTAssertEqual(
                "\(error)", "invalid value for limits.max_limit: \"true\" (expected an integer from 1 to 100000)")
        }
        try "[limits]\nmax_limits = 5\n".write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try configuration.apply(tomlFile: path)) { error in
            XCTAssertEqual("\(error)", "unknown setting limits.max_limits")
        }
        try "[limits]\nmax_limit = [5]\n".write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try configuration.apply(tomlFile: path)) { error in
            XCTAssertEqual(
                "\(error)",
                "cannot read configuration file \(path): line 2: arrays and inline tables are not supported; "
                    + "tern's settings are strings, integers and booleans")
        }
    }
}

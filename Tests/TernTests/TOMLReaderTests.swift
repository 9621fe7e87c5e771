import Foundation
import RelayCore
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
            ("[a]\nx = [[1], 2]", 2, "arrays hold strings or integers only"),
            ("[a]\nx = [true]", 2, "arrays hold strings or integers only"),
            ("[a]\nx = [1,\n 2", 3, "unterminated array"),
            ("[a]\nx = [1 2]", 2, "expected , or ] in an array"),
            ("[a]\nx = [\"a\nb\"]", 2, "unterminated string"),
            ("[a]\nx = { y = 1 }", 2, "inline tables are not supported"),
            ("[a]\nx = 1.5", 2, "floats and dates are not supported"),
            ("[a]\nx = 1e3", 2, "floats and dates are not supported"),
            ("[a]\nx = 07:32:00", 2, "floats and dates are not supported"),
            ("[a]\nx = \"\"\"many\nlines\"\"\"", 2, "multi-line strings are not supported"),
            ("[a]\nb.c = 1", 2, "dotted keys are not supported"),
            ("[a.]\n", 1, "expected a key or a [section]"),
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
        try "[limits]\nmax_limit = {a = 5}\n".write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try configuration.apply(tomlFile: path)) { error in
            XCTAssertEqual(
                "\(error)",
                "cannot read configuration file \(path): line 2: inline tables are not supported; "
                    + "tern's settings are strings, integers, booleans and arrays")
        }
    }

    func testReadsArraysOverLinesAndDottedTables() throws {
        let text = """
            [policy]
            deny_kinds = [ 4, 1059 ]   # a comment
            admins = [
              "aa",   # first
              'bb',
            ]
            empty = []
            [ kind . 1 ]
            max_tags = 3
            """
        let entries = try TOMLReader.read(text)
        XCTAssertEqual(
            entries.map { "\($0.section).\($0.key)=\($0.value.text)@\($0.line)" },
            ["policy.deny_kinds=4,1059@2", "policy.admins=aa,bb@3", "policy.empty=@7", "kind.1.max_tags=3@9"])
    }

    func testPolicySettingsFromTheFile() throws {
        let admin = String(repeating: "ab", count: 32)
        var configuration = Configuration()
        for (name, value) in [
            ("policy.mode", "follows"),
            ("policy.admins", "\(admin),npub10elfcs4fr0l0r8af98jlmgdh9c8tcxjvz9qkw038js35mp4dma8qzvjptg"),
            ("policy.deny_kinds", "4,1059"), ("policy.allow_kinds", "0, 1 3"), ("policy.min_pow_difficulty", "20"),
            ("policy.auth_required_kinds", "7"), ("policy.protect_direct_messages", "false"),
            ("kind.1.max_content_length", "280"), ("kind.1.max_tags", "10"), ("kind.30023.max_tags", "50"),
            ("rate_limits.events_per_minute_per_ip", "600"), ("rate_limits.events_burst_per_ip", "20"),
            ("rate_limits.reqs_per_minute_per_pubkey", "120"),
        ] {
            try configuration.set(name, value)
        }
        try configuration.apply(environment: ["TERN_KIND_7_MAX_TAGS": "4", "TERN_PLUGIN_ON_FAILURE": "accept"])
        XCTAssertThrowsError(try configuration.apply(environment: ["TERN_KIND_7_MAX_LIKES": "4"]))
        XCTAssertNoThrow(try configuration.apply(environment: ["TERN_ADMIN_KEY": "for tern admin, not serve"]))
        let p = configuration.policy
        XCTAssertEqual(p.kindLimits[7], KindLimit(maxTags: 4))
        XCTAssertTrue(p.plugin.failOpen)
        XCTAssertEqual(p.mode, .follows)
        XCTAssertEqual(
            p.admins.map(\.hex), [admin, "7e7e9c42a91bfef19fa929e5fda1b72e0ebc1a4c1141673e2794234d86addf4e"])
        XCTAssertEqual(p.denyKinds, [4, 1059])
        XCTAssertEqual(p.allowKinds, [0, 1, 3])
        XCTAssertEqual(p.minPowDifficulty, 20)
        XCTAssertEqual(p.authRequiredKinds, [7])
        XCTAssertFalse(p.protectDirectMessages)
        XCTAssertEqual(p.kindLimits[1], KindLimit(maxContentLength: 280, maxTags: 10))
        XCTAssertEqual(p.kindLimits[30023], KindLimit(maxTags: 50))
        XCTAssertEqual(p.rateLimits.eventsPerIP, RateLimits.Rate(perMinute: 600, burst: 20))
        XCTAssertEqual(p.rateLimits.reqsPerPubkey.perMinute, 120)

        for (name, value, message) in [
            (
                "policy.mode", "closed",
                "invalid value for policy.mode: \"closed\" (expected open, allowlist or follows)"
            ),
            (
                "policy.admins", "npub10elfcs4fr0l0r8af98jlmgdh9c8tcxjvz9qkw038js35mp4dma8qzvjpth",
                "invalid value for policy.admins: \"npub10elfcs4fr0l0r8af98jlmgdh9c8tcxjvz9qkw038js35mp4dma8qzvjpth\" "
                    + "(expected a pubkey as 64 hex characters or npub)"
            ),
            (
                "policy.deny_kinds", "4,x",
                "invalid value for policy.deny_kinds: \"x\" (expected a kind from 0 to 65535)"
            ),
            ("kind.1.max_likes", "3", "unknown setting kind.1.max_likes"),
            ("kind.70000.max_tags", "3", "unknown setting kind.70000.max_tags"),
        ] {
            XCTAssertThrowsError(try configuration.set(name, value), name) { error in
                XCTAssertEqual("\(error)", message)
            }
        }
    }

}

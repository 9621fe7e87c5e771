import XCTest

@testable import NostrCore

/// NIP-50's tokens: Unicode words, case-folded; scripts without spaces and emoji one by one.
final class SearchTextTests: XCTestCase {
    func testLatinWithAccentsIsCaseFoldedAndKeepsItsAccents() {
        XCTAssertEqual(
            SearchText.tokens("Café au LAIT, s'il vous plaît!"), ["café", "au", "lait", "s", "il", "vous", "plaît"])
        XCTAssertEqual(SearchText.tokens("ÉCOLE école Ecole"), ["école", "ecole"])
        XCTAssertEqual(SearchText.tokens("Straße über 42km"), ["straße", "über", "42km"])
    }

    func testCyrillic() {
        XCTAssertEqual(SearchText.tokens("Привет, МИР! Ёлка"), ["привет", "мир", "ёлка"])
    }

    func testCJKIsCutPerCharacter() {
        XCTAssertEqual(SearchText.tokens("你好世界"), ["你", "好", "世", "界"])
        XCTAssertEqual(SearchText.tokens("東京タワー and nostr"), ["東", "京", "タ", "ワ", "ー", "and", "nostr"])
        XCTAssertEqual(SearchText.tokens("한국어 문장"), ["한국어", "문장"], "Hangul is written with spaces")
    }

    func testEachEmojiIsAToken() {
        XCTAssertEqual(SearchText.tokens("I ❤️ nostr🤙🏽!!"), ["i", "❤️", "nostr", "🤙🏽"])
        XCTAssertEqual(SearchText.tokens("👨‍👩‍👧 family"), ["👨‍👩‍👧", "family"])
        XCTAssertEqual(SearchText.tokens("© 2024"), ["2024"], "a symbol that is not an emoji separates")
    }

    func testQueriesLeaveOutExtensions() {
        XCTAssertEqual(SearchText.queryTokens("best nostr apps include:spam language:en"), ["best", "nostr", "apps"])
        XCTAssertEqual(SearchText.queryTokens("domain:example.com"), [])
        XCTAssertEqual(
            SearchText.queryTokens("Nostr: the protocol"), ["nostr", "the", "protocol"],
            "a colon at the end is no extension")
    }

    /// ASCII characters inside text that is not all ASCII take a shortcut (no Unicode lookups):
    /// the words come out as they would character by character.
    func testASCIIInsideOtherTextIsCutTheSameWay() {
        XCTAssertEqual(
            SearchText.tokens("Ünïcode MIXED text, 42 e\u{301}cole 🤙 wOrd\r\nnext"),
            ["ünïcode", "mixed", "text", "42", "école", "🤙", "word", "next"])
        let long = "ü " + String(repeating: "X", count: 100) + " end"
        XCTAssertEqual(
            SearchText.tokens(long), ["ü", String(repeating: "x", count: SearchText.maxTokenBytes), "end"],
            "a long word is cut at the limit")
        XCTAssertEqual(
            SearchText.tokens("é" + String(repeating: "a", count: 100)).first?.utf8.count, SearchText.maxTokenBytes)
    }

    func testTokensAreDistinctBoundedAndCut() {
        XCTAssertEqual(SearchText.tokens("a b a c b", limit: 2), ["a", "b"])
        let long = String(repeating: "x", count: 100)
        XCTAssertEqual(SearchText.tokens(long).first?.utf8.count, SearchText.maxTokenBytes)
    }

    func testAFilterMatchesContentHoldingEveryWord() {
        let filter = Filter(kinds: [1], search: "NOSTR relay")
        XCTAssertEqual(filter.searchTokens, ["nostr", "relay"])
        XCTAssertTrue(filter.matchesSearch(content: "A relay for Nostr, in Swift"))
        XCTAssertFalse(filter.matchesSearch(content: "nostr only"))
        XCTAssertTrue(Filter(search: "include:spam").matchesSearch(content: "anything"), "no words: no condition")
    }

    func testQualityFavoursContentMadeOfTheQuery() {
        let query = ["nostr"]
        XCTAssertGreaterThan(
            SearchText.score(content: "nostr nostr", query: query),
            SearchText.score(content: "a long note that mentions nostr once among many other words", query: query))
    }

    /// Runs of ASCII are read as bytes and only the text around non-ASCII as `Character`s: the
    /// words are the same as reading every `Character`, on text made of the hard cases (marks
    /// after ASCII letters, CR LF, joiners, flags, modifiers, prepended characters, case
    /// mappings that grow, words past the length limit).
    func testReadingASCIIRunsAsBytesGivesTheSameWordsAsReadingCharacters() {
        let pieces = [
            "a", "Z", "7", " ", ".", "-", "\r", "\n", "\r\n", "é", "e\u{301}", "\u{301}", "ü", "日本", "ひら", "ไทย",
            "🤙", "👍🏽", "👨\u{200D}👩\u{200D}👧", "🇩🇪", "❤\u{FE0F}", "\u{600}", "\u{200D}", "\u{FE0F}", "Ω", "ß", "İ",
            "ǅ", String(repeating: "x", count: 70), String(repeating: "ä", count: 40), "#nostr", "O'Brien",
            "x\u{308}\u{301}",
        ]
        var rng = SplitMix(seed: 16)
        func words(_ text: String, _ read: (String, (UnsafeBufferPointer<UInt8>) -> Bool) -> Void) -> [[UInt8]] {
            var out: [[UInt8]] = []
            read(text) { word in
                out.append(Array(word))
                return true
            }
            return out
        }
        for _ in 0..<4_000 {
            let count = Int(rng.next() % 24)
            let text = (0..<count).map { _ in pieces[Int(rng.next() % UInt64(pieces.count))] }.joined()
            XCTAssertEqual(
                words(text) { SearchText.forEachTokenBytes($0, $1) },
                words(text) { SearchText.forEachTokenByCharacter($0, $1) }, text.debugDescription)
        }
    }
}

/// A small deterministic generator for the tests' random text.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

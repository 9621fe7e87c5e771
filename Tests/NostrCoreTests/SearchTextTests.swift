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
}

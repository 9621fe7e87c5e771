import NIOConcurrencyHelpers
import NostrCore
import NostrTools
import XCTest

@testable import RelayCore

/// Each rule of the write and read policy on its own, through the authorization service.
final class PolicyTests: XCTestCase {
    let alice = Signer(seed: 31)
    let bob = Signer(seed: 32)
    let carol = Signer(seed: 33)
    let now: Int64 = 1_700_000_000

    func service(_ configure: (inout Policy) -> Void = { _ in }) -> AuthorizationService {
        var policy = Policy()
        configure(&policy)
        return AuthorizationService(policy: policy, limits: Limits(), relayURL: "")
    }

    func note(_ signer: Signer, kind: UInt16 = 1, content: String = "hi", tags: [[String]] = []) -> Event {
        signer.event(kind: kind, content: content, tags: Tags(tags), createdAt: now)
    }

    func check(_ s: AuthorizationService, _ event: Event, as pubkeys: [Bytes32] = [], address: String = "10.0.0.1")
        -> Rejection?
    {
        var auth = AuthState(challenge: "c")
        for pubkey in pubkeys { auth.add(pubkey) }
        if case .deny(let rejection) = s.authorizeWrite(event, WriteContext(auth: auth, address: address, now: now)) {
            return rejection
        }
        return nil
    }

    func testTheDefaultPolicyAcceptsOrdinaryEventsWithOneRule() {
        let s = service()
        XCTAssertNil(check(s, note(alice)))
        XCTAssertEqual(s.snapshot.rules.count, 1, "only NIP-70's check applies by default")
    }

    func testDenyListsOfPubkeysFromTheFileAndFromBans() {
        let s = service { $0.denyPubkeys = [bob.publicKey] }
        XCTAssertEqual(check(s, note(bob)), .blocked("this pubkey is banned from this relay"))
        XCTAssertNil(check(s, note(alice)))
        s.updateLists { $0.banPubkey(alice.publicKey, reason: "spam") }
        XCTAssertEqual(check(s, note(alice)), .blocked("this pubkey is banned from this relay"))
        s.updateLists { $0.allowPubkey(alice.publicKey, reason: "appeal") }
        XCTAssertNil(check(s, note(alice)), "allowing a pubkey lifts its ban")
    }

    func testBannedEventsAreRefused() {
        let s = service()
        let event = note(alice)
        s.updateLists { $0.bannedEvents[event.id] = "illegal" }
        XCTAssertEqual(check(s, event), .blocked("this event is banned from this relay"))
        XCTAssertNil(check(s, note(alice, content: "another")))
    }

    func testBlockedAddressesAreRefused() {
        let s = service()
        s.updateLists { $0.blockedIPs["203.0.113.7"] = "scraper" }
        XCTAssertEqual(check(s, note(alice), address: "203.0.113.7"), .blocked("your address is blocked by this relay"))
        XCTAssertNil(check(s, note(alice), address: "203.0.113.8"))
        XCTAssertTrue(s.snapshot.isBlocked("203.0.113.7"), "its connections are refused when they open")
        s.updateLists { $0.blockedIPs["203.0.113.7"] = nil }
        XCTAssertNil(check(s, note(alice), address: "203.0.113.7"))
    }

    func testAllowAndDenyListsOfKinds() {
        let s = service {
            $0.allowKinds = [0, 1, 3]
            $0.denyKinds = [3]
        }
        XCTAssertNil(check(s, note(alice, kind: 1)))
        XCTAssertEqual(check(s, note(alice, kind: 3)), .blocked("kind 3 is not accepted by this relay"))
        XCTAssertEqual(check(s, note(alice, kind: 7)), .blocked("kind 7 is not accepted by this relay"))
        s.updateLists { $0.allowKind(7) }
        XCTAssertNil(check(s, note(alice, kind: 7)), "NIP-86 allowkind adds to the allow list")
        s.updateLists { $0.disallowKind(1) }
        XCTAssertEqual(check(s, note(alice, kind: 1)), .blocked("kind 1 is not accepted by this relay"))
        let open = service { $0.denyKinds = [4] }
        XCTAssertNil(check(open, note(alice, kind: 30023)), "without an allow list every other kind passes")
        XCTAssertEqual(check(open, note(alice, kind: 4)), .blocked("kind 4 is not accepted by this relay"))
    }

    func testPerKindContentAndTagLimits() {
        let s = service {
            $0.kindLimits[1] = KindLimit(maxContentLength: 5, maxTags: 2)
            $0.kindLimits[7] = KindLimit(maxTags: 0)
        }
        XCTAssertNil(check(s, note(alice, content: "héllo", tags: [["t", "a"], ["t", "b"]])), "5 characters, 2 tags")
        XCTAssertEqual(
            check(s, note(alice, content: "hello!")), .invalid("content is longer than 5 characters for kind 1"))
        XCTAssertEqual(
            check(s, note(alice, content: "", tags: [["t", "a"], ["t", "b"], ["t", "c"]])),
            .invalid("too many tags for kind 1 (max 2)"))
        XCTAssertEqual(
            check(s, note(alice, kind: 7, tags: [["e", "x"]])), .invalid("too many tags for kind 7 (max 0)"))
        XCTAssertNil(check(s, note(alice, kind: 30023, content: String(repeating: "x", count: 100))))
    }

    func testAuthRequiredToWrite() {
        let s = service { $0.authRequiredForWrites = true }
        XCTAssertEqual(
            check(s, note(alice)), .authRequired("this relay only accepts events from authenticated users"))
        XCTAssertNil(check(s, note(alice), as: [bob.publicKey]), "any authenticated user may write")
    }

    /// An event with a chosen id (the rule looks at nothing else that is signed).
    func mined(_ idHex: String, tags: [[String]]) -> Event {
        var event = note(alice, tags: tags)
        event.id = Bytes32(hex: Array(idHex.utf8))!
        return event
    }

    func testProofOfWorkDifficultyAndCommittedTarget() {
        // NIP-13's examples: 36 and 10 leading zero bits.
        XCTAssertEqual(
            ProofOfWork.difficulty(
                Bytes32(hex: Array("000000000e9d97a1ab09fc381030b346cdd7a142ad57e6df0b46dc9bef6c7e2d".utf8))!),
            36)
        XCTAssertEqual(
            ProofOfWork.difficulty(Bytes32(hex: Array(("002f" + String(repeating: "f", count: 60)).utf8))!), 10)
        XCTAssertEqual(ProofOfWork.difficulty(.zero), 256)
        let s = service { $0.minPowDifficulty = 20 }
        let strong = "000006d8c378af1779d2feebc7603a125d99eca0ccf1085959b307f64e5dd358"  // 21 bits
        XCTAssertNil(check(s, mined(strong, tags: [["nonce", "776797", "20"]])))
        XCTAssertNil(check(s, mined(strong, tags: [])), "no committed target: the bits decide")
        XCTAssertEqual(
            check(s, mined(strong, tags: [["nonce", "776797", "10"]])),
            .pow("committed target difficulty 10 is less than 20"), "aimed lower and got lucky")
        XCTAssertEqual(
            check(s, mined(strong, tags: [["nonce", "1", "twenty"]])),
            .pow("the nonce tag's target difficulty is not a number"))
        XCTAssertEqual(
            check(
                s,
                mined("0000ffd8c378af1779d2feebc7603a125d99eca0ccf1085959b307f64e5dd358", tags: [["nonce", "1", "20"]])),
            .pow("difficulty 16 is less than 20"))
    }

    func testTokenBucketsRefillWithTime() {
        let clock = NIOLockedValueBox<UInt64>(0)
        let limiter = RateLimiter<String>(
            rate: RateLimits.Rate(perMinute: 60, burst: 3), clock: { clock.withLockedValue { $0 } })
        XCTAssertEqual((0..<4).map { _ in limiter.take("a") }, [true, true, true, false], "a burst of 3")
        XCTAssertTrue(limiter.take("b"), "each key has its own bucket")
        clock.withLockedValue { $0 += 1_000_000_000 }
        XCTAssertEqual((0..<2).map { _ in limiter.take("a") }, [true, false], "one token a second")
        clock.withLockedValue { $0 += 60_000_000_000 }
        XCTAssertEqual((0..<4).map { _ in limiter.take("a") }, [true, true, true, false], "never more than the burst")
    }

    func testTheBucketsForgetIdleKeysPastTheirBound() {
        let clock = NIOLockedValueBox<UInt64>(0)
        let limiter = RateLimiter<Int>(
            rate: RateLimits.Rate(perMinute: 60, burst: 1), maxKeys: 10, clock: { clock.withLockedValue { $0 } })
        for key in 0..<10 { XCTAssertTrue(limiter.take(key)) }
        clock.withLockedValue { $0 += 5_000_000_000 }
        XCTAssertTrue(limiter.take(10))
        XCTAssertEqual(limiter.keyCount, 1, "the refilled buckets were dropped")
    }

    func testEventRateLimitsPerAddressAndPerPubkey() {
        let s = service {
            $0.rateLimits.eventsPerIP = RateLimits.Rate(perMinute: 1, burst: 2)
            $0.rateLimits.eventsPerPubkey = RateLimits.Rate(perMinute: 1, burst: 3)
        }
        XCTAssertNil(check(s, note(alice, content: "1"), address: "10.0.0.1"))
        XCTAssertNil(check(s, note(alice, content: "2"), address: "10.0.0.1"))
        XCTAssertEqual(
            check(s, note(alice, content: "3"), address: "10.0.0.1"),
            .rateLimited("you are publishing too fast from your address, slow down"))
        XCTAssertNil(check(s, note(alice, content: "4"), address: "10.0.0.2"))
        XCTAssertEqual(
            check(s, note(alice, content: "5"), address: "10.0.0.3"),
            .rateLimited("this pubkey is publishing too fast, slow down"))
        XCTAssertNil(check(s, note(bob), address: "10.0.0.3"))
    }

    func testREQRateLimits() {
        let s = service {
            $0.rateLimits.reqsPerIP = RateLimits.Rate(perMinute: 1, burst: 1)
            $0.rateLimits.reqsPerPubkey = RateLimits.Rate(perMinute: 1, burst: 1)
        }
        let open = AuthState(challenge: "c")
        XCTAssertEqual(
            s.authorizeRead([Filter()], auth: open, address: "a"), .serve(s.snapshot.readScope(authenticatedAs: [])))
        XCTAssertEqual(
            s.authorizeRead([Filter()], auth: open, address: "a"),
            .deny(.rateLimited("you are asking too fast from your address, slow down")))
        var authed = AuthState(challenge: "c")
        authed.add(alice.publicKey)
        _ = s.authorizeRead([Filter()], auth: authed, address: "b")
        XCTAssertEqual(
            s.authorizeRead([Filter()], auth: authed, address: "c"),
            .deny(.rateLimited("you are asking too fast, slow down")))
    }

    func testAllowlistMode() {
        let s = service {
            $0.mode = .allowlist
            $0.allowPubkeys = [alice.publicKey]
            $0.admins = [carol.publicKey]
        }
        XCTAssertNil(check(s, note(alice)))
        XCTAssertNil(check(s, note(carol)), "admins are members")
        XCTAssertEqual(
            check(s, note(bob)), .restricted("this relay only accepts events from pubkeys on its allow list"))
        XCTAssertNil(check(s, note(bob, kind: 1059), as: [alice.publicKey]), "a member may publish another key's event")
        s.updateLists { $0.allowPubkey(bob.publicKey, reason: "") }
        XCTAssertNil(check(s, note(bob)), "NIP-86 allowpubkey")
        s.updateLists { $0.allowedPubkeys[bob.publicKey] = nil }
        XCTAssertNotNil(check(s, note(bob)))
    }

    func contactList(_ signer: Signer, follows: [Signer], at: Int64) -> Event {
        signer.event(kind: 3, content: "", tags: Tags(follows.map { ["p", $0.publicKey.hex] }), createdAt: at)
    }

    func testFollowsModeFollowsTheAdminsNewestContactList() {
        let s = service {
            $0.mode = .follows
            $0.admins = [carol.publicKey]
        }
        let refusal = Rejection.restricted("this relay only accepts events from pubkeys its admins follow")
        XCTAssertEqual(check(s, note(alice)), refusal)
        XCTAssertNil(check(s, note(carol)))
        s.committed(contactList(carol, follows: [alice], at: now))
        XCTAssertNil(check(s, note(alice)), "followed as soon as the list is committed")
        s.committed(contactList(bob, follows: [bob], at: now + 5))
        XCTAssertEqual(check(s, note(bob)), refusal, "only admins' lists count")
        s.committed(contactList(carol, follows: [bob], at: now - 5))
        XCTAssertNil(check(s, note(alice)), "an older list changes nothing")
        s.committed(contactList(carol, follows: [bob], at: now + 10))
        XCTAssertEqual(check(s, note(alice)), refusal, "unfollowed")
        XCTAssertNil(check(s, note(bob)))
        XCTAssertEqual(s.snapshot.follows, [bob.publicKey])
        s.updateLists { $0.allowPubkey(alice.publicKey, reason: "guest") }
        XCTAssertNil(check(s, note(alice)), "NIP-86 allowpubkey adds to the follows")
    }

    func testReloadReplacesTheRulesAndKeepsTheLists() {
        let s = service { $0.rateLimits.eventsPerIP = RateLimits.Rate(perMinute: 60, burst: 5) }
        s.updateLists { $0.banPubkey(bob.publicKey, reason: "") }
        let limiter = s.snapshot.limiters.eventsPerIP
        var policy = s.snapshot.policy
        policy.denyKinds = [1]
        s.reload(policy)
        XCTAssertEqual(check(s, note(alice)), .blocked("kind 1 is not accepted by this relay"))
        XCTAssertEqual(check(s, note(bob, kind: 7)), .blocked("this pubkey is banned from this relay"))
        XCTAssertTrue(s.snapshot.limiters.eventsPerIP === limiter, "unchanged buckets keep their state")
    }

    // MARK: Reads

    func testDirectMessagesNeedAPartyAndFilterOnlyForThemNeedsAUTH() {
        let s = service()
        let open = AuthState(challenge: "c")
        XCTAssertEqual(
            s.authorizeRead([Filter(kinds: [4])], auth: open),
            .deny(.authRequired("these events are only served to authenticated users they are addressed to")))
        XCTAssertEqual(
            s.authorizeRead([Filter(kinds: [1]), Filter(kinds: [1059])], auth: open),
            .deny(.authRequired("these events are only served to authenticated users they are addressed to")),
            "one filter that can match nothing it may see")
        guard case .serve(let scope) = s.authorizeRead([Filter(kinds: [1, 4])], auth: open) else {
            return XCTFail("a filter with other kinds is served")
        }
        let dm = alice.event(kind: 4, content: "x", tags: [["p", bob.publicKey.hex]], createdAt: now)
        XCTAssertFalse(scope.admits(dm))
        XCTAssertTrue(scope.admits(note(alice)))
        var asBob = AuthState(challenge: "c")
        asBob.add(bob.publicKey)
        guard case .serve(let bobs) = s.authorizeRead([Filter(kinds: [4])], auth: asBob) else {
            return XCTFail("served once authenticated")
        }
        XCTAssertTrue(bobs.admits(dm), "the recipient")
        XCTAssertTrue(s.snapshot.readScope(authenticatedAs: [alice.publicKey]).admits(dm), "the author")
        XCTAssertFalse(s.snapshot.readScope(authenticatedAs: [carol.publicKey]).admits(dm), "anyone else")
        XCTAssertTrue(s.snapshot.admitsLive(dm, authenticatedAs: { [bob.publicKey] }))
        XCTAssertFalse(s.snapshot.admitsLive(dm, authenticatedAs: { [carol.publicKey] }))
        XCTAssertFalse(s.snapshot.admitsLive(dm, authenticatedAs: { [] }))
        XCTAssertTrue(s.snapshot.admitsLive(note(alice), authenticatedAs: { [] }))

        let off = service { $0.protectDirectMessages = false }
        XCTAssertEqual(off.authorizeRead([Filter(kinds: [4])], auth: open), .serve(.everything))
        XCTAssertTrue(off.snapshot.admitsLive(dm, authenticatedAs: { [] }))
    }

    func testChosenKindsNeedAUTHToRead() {
        let s = service {
            $0.authRequiredKinds = [7]
            $0.protectDirectMessages = false
        }
        let open = AuthState(challenge: "c")
        XCTAssertEqual(
            s.authorizeRead([Filter(kinds: [7])], auth: open),
            .deny(.authRequired("these events are only served to authenticated users they are addressed to")))
        guard case .serve(let scope) = s.authorizeRead([Filter()], auth: open) else { return XCTFail() }
        XCTAssertFalse(scope.admits(note(alice, kind: 7)))
        XCTAssertTrue(scope.admits(note(alice, kind: 1)))
        var authed = AuthState(challenge: "c")
        authed.add(carol.publicKey)
        XCTAssertEqual(s.authorizeRead([Filter(kinds: [7])], auth: authed), .serve(.everything))
        XCTAssertFalse(s.snapshot.admitsLive(note(alice, kind: 7), authenticatedAs: { [] }))
        XCTAssertTrue(s.snapshot.admitsLive(note(alice, kind: 7), authenticatedAs: { [carol.publicKey] }))
    }
}

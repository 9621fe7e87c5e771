import EventStorage
import NostrCore
import NostrTools
import RelayCore
import XCTest

final class ValidationServiceTests: XCTestCase {
    let signer = Signer(seed: 11)
    let now: Int64 = 1_700_000_000
    let service = ValidationService(limits: Limits())

    func rejection(_ event: Event, service: ValidationService? = nil) -> Rejection? {
        if case .failure(let r) = (service ?? self.service).validate(event, now: now) { return r }
        return nil
    }

    func testAcceptsAGoodEventAndKeepsItsJSON() throws {
        let event = signer.event(kind: 1, content: "hello", createdAt: now)
        let valid = try service.validate(event, now: now).get()
        XCTAssertEqual(valid.event, event)
        XCTAssertEqual(valid.json, event.jsonBytes)
    }

    func testRejectsAWrongID() {
        var event = signer.event(kind: 1, content: "hello", createdAt: now)
        event.content = "tampered"
        XCTAssertEqual(rejection(event), .invalid("event id does not match the hash of the event"))
    }

    func testRejectsABadSignature() {
        var event = signer.event(kind: 1, content: "hello", createdAt: now)
        event.sig = Signer(seed: 12).sign(event.id)
        XCTAssertEqual(rejection(event), .invalid("signature verification failed"))
    }

    func testCreatedAtWindow() {
        XCTAssertNil(rejection(signer.event(kind: 1, content: "", createdAt: now + 900)))
        XCTAssertEqual(
            rejection(signer.event(kind: 1, content: "", createdAt: now + 901)),
            .invalid("event creation date is too far in the future"))
        var limits = Limits()
        limits.createdAtLowerLimit = 3600
        XCTAssertEqual(
            rejection(
                signer.event(kind: 1, content: "", createdAt: now - 3601), service: ValidationService(limits: limits)),
            .invalid("event creation date is too far in the past"))
        XCTAssertNil(rejection(signer.event(kind: 1, content: "", createdAt: 1)), "no lower limit by default")
    }

    func testExpiredOnArrival() {
        let expired = signer.event(kind: 1, content: "", tags: [["expiration", "\(now)"]], createdAt: now - 10)
        XCTAssertEqual(rejection(expired), .invalid("event has expired"))
        let fresh = signer.event(kind: 1, content: "", tags: [["expiration", "\(now + 1)"]], createdAt: now - 10)
        XCTAssertNil(rejection(fresh))
    }

    func testSizeLimits() {
        var limits = Limits()
        limits.maxEventTags = 2
        limits.maxContentLength = 5
        limits.maxEventSize = 400
        let s = ValidationService(limits: limits)
        XCTAssertEqual(
            rejection(signer.event(kind: 1, content: "", tags: [["a"], ["b"], ["c"]], createdAt: now), service: s),
            .invalid("too many tags (max 2)"))
        XCTAssertNil(
            rejection(signer.event(kind: 1, content: "ééééé", createdAt: now), service: s), "characters, not bytes")
        XCTAssertEqual(
            rejection(signer.event(kind: 1, content: "123456", createdAt: now), service: s),
            .invalid("content is longer than 5 characters"))
        XCTAssertEqual(
            rejection(
                signer.event(kind: 1, content: "", tags: [["t", String(repeating: "x", count: 300)]], createdAt: now),
                service: s),
            .invalid("event is larger than 400 bytes"))
    }
}

extension AuthorizationService {
    /// The write check with only an AUTH state (no address, the test's time).
    func authorizeWrite(_ event: Event, auth: AuthState, now: Int64 = 1_700_000_000) -> Decision {
        authorizeWrite(event, WriteContext(auth: auth, now: now))
    }
}

final class AuthorizationServiceTests: XCTestCase {
    let alice = Signer(seed: 21)
    let bob = Signer(seed: 22)
    let now: Int64 = 1_700_000_000
    let service = AuthorizationService(policy: Policy(), limits: Limits(), relayURL: "wss://relay.example.com")

    func testProtectedEventsNeedTheirAuthor() {
        let protected = alice.event(kind: 1, content: "", tags: [["-"]], createdAt: now)
        var auth = AuthState(challenge: "c")
        XCTAssertEqual(
            service.authorizeWrite(protected, auth: auth),
            .deny(.authRequired("this event may only be published by its author")))
        auth.add(bob.publicKey)
        XCTAssertEqual(
            service.authorizeWrite(protected, auth: auth),
            .deny(.restricted("this event may only be published by its author")))
        auth.add(alice.publicKey)
        XCTAssertEqual(service.authorizeWrite(protected, auth: auth), .allow, "several pubkeys may be authenticated")
        XCTAssertEqual(
            service.authorizeWrite(alice.event(kind: 1, content: "", createdAt: now), auth: AuthState(challenge: "c")),
            .allow)
        var policy = Policy()
        policy.acceptProtectedEvents = false
        XCTAssertEqual(
            AuthorizationService(policy: policy, limits: Limits(), relayURL: "").authorizeWrite(protected, auth: auth),
            .deny(.blocked("this relay does not accept protected events")))
    }

    func testAuthRequiredPolicies() {
        var policy = Policy()
        policy.authRequiredForWrites = true
        policy.authRequiredForReads = true
        let s = AuthorizationService(policy: policy, limits: Limits(), relayURL: "")
        var auth = AuthState(challenge: "c")
        XCTAssertEqual(
            s.authorizeWrite(alice.event(kind: 1, content: "", createdAt: now), auth: auth),
            .deny(.authRequired("this relay only accepts events from authenticated users")))
        XCTAssertEqual(
            s.authorizeRead([Filter()], auth: auth), .deny(.authRequired("this relay only serves authenticated users")))
        auth.add(alice.publicKey)
        XCTAssertEqual(
            s.authorizeRead([Filter()], auth: auth), .serve(s.snapshot.readScope(authenticatedAs: auth.pubkeys)))
    }

    func authEvent(
        challenge: String = "c", relay: String? = "wss://relay.example.com/", kind: UInt16 = 22242, at: Int64? = nil
    ) -> Event {
        var tags = [["challenge", challenge]]
        if let relay { tags.append(["relay", relay]) }
        return alice.event(kind: kind, content: "", tags: Tags(tags), createdAt: at ?? now)
    }

    func testAuthEventVerification() {
        let auth = AuthState(challenge: "c")
        XCTAssertEqual(try service.verifyAuth(authEvent(), auth: auth, now: now).get(), alice.publicKey)
        XCTAssertEqual(
            try service.verifyAuth(authEvent(relay: "WSS://Relay.Example.com"), auth: auth, now: now).get(),
            alice.publicKey)
        func reason(_ e: Event) -> Rejection? {
            if case .failure(let r) = service.verifyAuth(e, auth: auth, now: now) { return r }
            return nil
        }
        XCTAssertEqual(reason(authEvent(kind: 1)), .invalid("AUTH event must be of kind 22242"))
        XCTAssertEqual(reason(authEvent(challenge: "other")), .invalid("AUTH challenge does not match"))
        XCTAssertEqual(reason(authEvent(relay: nil)), .invalid("AUTH event has no relay tag"))
        XCTAssertEqual(
            reason(authEvent(relay: "wss://evil.example.com")), .invalid("AUTH relay tag is for another relay"))
        XCTAssertEqual(
            reason(authEvent(at: now - 601)), .invalid("AUTH event created_at is too far from the current time"))
    }
}

final class RoutingServiceTests: XCTestCase {
    func testRoutesByKindAndCarriesTheAddress() {
        let s = Signer(seed: 31)
        let routing = RoutingService(relayURL: "wss://relay.example.com")
        func route(_ kind: UInt16, _ tags: Tags = []) -> Route {
            routing.route(s.event(kind: kind, content: "", tags: tags, createdAt: 1))
        }
        XCTAssertEqual(route(1), .store(.insert))
        XCTAssertEqual(route(5), .store(.delete))
        XCTAssertEqual(route(0), .store(.replace(Address(pubkey: s.publicKey, kind: 0, d: ""))))
        XCTAssertEqual(
            route(10002, [["d", "ignored"]]), .store(.replace(Address(pubkey: s.publicKey, kind: 10002, d: ""))))
        XCTAssertEqual(
            route(30023, [["d", "post"]]), .store(.replace(Address(pubkey: s.publicKey, kind: 30023, d: "post"))))
        XCTAssertEqual(route(20001), .broadcast)
        XCTAssertEqual(route(22242), .refuse(.invalid("kind 22242 events are only accepted in AUTH messages")))
        XCTAssertEqual(route(62, [["relay", "ALL_RELAYS"]]), .store(.vanish))
        XCTAssertEqual(route(62, [["relay", "wss://RELAY.example.com/"]]), .store(.vanish))
        XCTAssertEqual(route(62, [["relay", "wss://other.example.com"]]), .store(.insert), "not for this relay")
    }
}

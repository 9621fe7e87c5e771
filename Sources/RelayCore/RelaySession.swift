import Logging
import NIOConcurrencyHelpers
import NostrCore
import NostrStore

/// What a session needs from its connection. The server's WebSocket handler implements it.
public protocol ConnectionTransport: AnyObject, Sendable {
    /// Sends one text message. Callable from any thread.
    func send(_ text: [UInt8])
    /// Sends `prefix` + `eventJSON` + `]` as one text message (an EVENT frame, built once into
    /// the outgoing buffer). Connection thread only.
    func sendEvent(prefix: [UInt8], eventJSON: [UInt8])
    /// Runs `body` on the connection's own thread, where its session lives.
    func execute(_ body: @escaping @Sendable () -> Void)
    /// Stops or resumes reading from the client (back-pressure). Connection thread only.
    func setReading(_ enabled: Bool)
    /// Runs `body` and flushes what it sent once, at its end (not in a task of its own).
    /// Connection thread only.
    func batch(_ body: () -> Void)
    /// Whether more than half of the outbound budget waits for the client to read it.
    /// Connection thread only.
    var isBacklogged: Bool { get }
}

/// One client connection's protocol state: its subscriptions, its AUTH state and its events
/// in flight. Confined to the connection's thread; messages are handled in arrival order.
public final class RelaySession: Subscriber, EventOrigin, @unchecked Sendable {
    public let id: UInt64
    let relay: Relay
    let transport: any ConnectionTransport
    public private(set) var auth: AuthState
    /// Open subscriptions and, for each, its `["EVENT","<id>",` prefix, escaped once.
    private var subscriptions: [String: [UInt8]] = [:]
    private var inFlight = 0
    private var readingPaused = false
    private var scratch: [UInt8] = []
    private var closed = false
    /// What other threads hand this connection (outcomes of its events from the writer, live
    /// events from the fan-out), in arrival order; `spareMail` is the spare buffer the mailbox is
    /// swapped with on the connection's thread. Only the first message of a run schedules a hop to that thread,
    /// so a writer commit of many events costs each connection one hop, not one per message.
    private let mailbox = NIOLockedValueBox<[Mail]>([])
    private var spareMail: [Mail] = []

    enum Mail {
        /// One of this connection's events was processed: answer it with an OK.
        case finished(Bytes32, Outcome)
        /// A live event for some of this connection's subscriptions.
        case live([UInt8], [String])
    }

    public init(id: UInt64, relay: Relay, transport: any ConnectionTransport) {
        self.id = id
        self.relay = relay
        self.transport = transport
        var rng = SystemRandomNumberGenerator()
        let challenge = Hex.encode((0..<16).map { _ in UInt8.random(in: 0...255, using: &rng) })
        auth = AuthState(challenge: challenge)
        scratch.reserveCapacity(1024)
    }

    /// Called once the WebSocket is open: sends the NIP-42 challenge.
    public func start() {
        transport.send(RelayMessage.auth(challenge: auth.challenge))
    }

    /// Called when the connection is gone: drops its subscriptions.
    public func close() {
        closed = true
        relay.subscriptions.removeAll(connection: id)
        subscriptions.removeAll()
    }

    /// Handles one text message from the client.
    public func receive(_ text: UnsafeBufferPointer<UInt8>) {
        let message: ClientMessage
        do {
            message = try ClientMessage.parse(text, limits: relay.parseLimits)
        } catch {
            answer(error)
            return
        }
        switch message {
        case .event(let event): handleEvent(event)
        case .req(let subscriptionID, let filters): handleReq(subscriptionID, filters)
        case .close(let subscriptionID): handleClose(subscriptionID)
        case .auth(let event): handleAuth(event)
        }
    }

    public func receive(_ text: [UInt8]) {
        text.withUnsafeBufferPointer { receive($0) }
    }

    /// Tells the client that a message could not be read or was refused as a whole.
    public func notice(_ text: String) {
        transport.send(RelayMessage.notice(text))
    }

    private func answer(_ error: ClientMessageError) {
        switch error {
        case .malformed(let why):
            notice("invalid: \(why)")
        case .invalidEvent(let id?, let why, _):
            transport.send(RelayMessage.ok(id: id, accepted: false, message: Rejection.invalid(why).message))
        case .invalidEvent(nil, let why, _):
            notice("invalid: \(why)")
        case .invalidFilter(let subscriptionID, let rejection):
            transport.send(RelayMessage.closed(subscriptionID: subscriptionID, message: rejection.message))
        }
    }

    private func ok(_ id: Bytes32, _ outcome: Outcome) {
        let (accepted, message) = outcome.okAnswer
        transport.send(RelayMessage.ok(id: id, accepted: accepted, message: message))
    }

    // MARK: EVENT

    private func handleEvent(_ event: Event) {
        let now = relay.clock()
        let valid: ValidEvent
        switch relay.validation.validate(event, now: now, scratch: &scratch) {
        case .success(let v): valid = v
        case .failure(let rejection): return ok(event.id, .rejected(rejection))
        }
        if case .deny(let rejection) = relay.authorization.authorizeWrite(event, auth: auth) {
            return ok(event.id, .rejected(rejection))
        }
        let route = relay.routing.route(event)
        inFlight += 1
        if inFlight >= relay.limits.maxEventsInFlight && !readingPaused {
            readingPaused = true
            transport.setReading(false)
        }
        relay.processing.process(valid, route: route, origin: self)
    }

    /// The outcome of one of this connection's events, from any thread (the writer's, mostly).
    public func processed(_ id: Bytes32, _ outcome: Outcome) {
        post(.finished(id, outcome))
    }

    /// Queues `mail` for the connection's thread; the first of a run schedules the hop there.
    private func post(_ mail: Mail) {
        let first = mailbox.withLockedValue { box in
            box.append(mail)
            return box.count == 1
        }
        if first { transport.execute { [self] in readMail() } }
    }

    /// Answers finished events and sends live events, in the order they came. Connection
    /// thread only.
    private func readMail() {
        // Take the spare buffer out of `spareMail` first: if sending re-enters this function, the
        // inner call finds no spare and cannot hand these messages back to the mailbox.
        var mails: [Mail] = []
        swap(&mails, &spareMail)
        mailbox.withLockedValue { swap(&$0, &mails) }
        transport.batch {
            for mail in mails {
                switch mail {
                case .finished(let id, let outcome):
                    ok(id, outcome)
                    eventFinished()
                case .live(let eventJSON, let subscriptionIDs):
                    guard !closed else { continue }
                    for subscriptionID in subscriptionIDs {
                        if let prefix = subscriptions[subscriptionID] {
                            transport.sendEvent(prefix: prefix, eventJSON: eventJSON)
                        }
                    }
                }
            }
        }
        mails.removeAll(keepingCapacity: true)
        spareMail = mails
    }

    private func eventFinished() {
        inFlight -= 1
        if readingPaused && inFlight <= relay.limits.maxEventsInFlight / 2 {
            readingPaused = false
            if !closed { transport.setReading(true) }
        }
    }

    /// The writer committed (or failed) one of this connection's events.
    public func written(_ event: Event, json: [UInt8], outcome: WriteOutcome) {
        finishWrite(event, json: json, outcome, processing: relay.processing)
    }

    // MARK: REQ and CLOSE

    private func handleReq(_ subscriptionID: String, _ filters: [Filter]) {
        if subscriptions[subscriptionID] == nil && subscriptions.count >= relay.limits.maxSubscriptions {
            let r = Rejection.rateLimited("too many open subscriptions (max \(relay.limits.maxSubscriptions))")
            transport.send(RelayMessage.closed(subscriptionID: subscriptionID, message: r.message))
            return
        }
        if transport.isBacklogged {
            // Answers already wait for this client to read them: do not pile up more.
            handleClose(subscriptionID)
            let r = Rejection.rateLimited("too much data waiting for you to read; read it, then ask again")
            transport.send(RelayMessage.closed(subscriptionID: subscriptionID, message: r.message))
            return
        }
        if case .deny(let rejection) = relay.authorization.authorizeRead(filters, auth: auth) {
            handleClose(subscriptionID)
            transport.send(RelayMessage.closed(subscriptionID: subscriptionID, message: rejection.message))
            return
        }
        // Register before querying: an event committed after the query's snapshot is then
        // delivered live (on this thread, so after EOSE) rather than lost.
        var prefix: [UInt8] = []
        RelayMessage.appendEventPrefix(subscriptionID: subscriptionID, to: &prefix)
        subscriptions[subscriptionID] = prefix
        relay.subscriptions.add(connection: id, subscriptionID: subscriptionID, filters: filters, subscriber: self)
        let stored: [StoredEvent]
        do {
            stored = try relay.store.query(filters, defaultLimit: relay.limits.defaultLimit, now: relay.clock())
        } catch {
            handleClose(subscriptionID)
            relay.logger.error("query failed", metadata: ["error": "\(error)"])
            transport.send(
                RelayMessage.closed(subscriptionID: subscriptionID, message: "error: could not read the store"))
            return
        }
        for found in stored {
            transport.sendEvent(prefix: prefix, eventJSON: found.json)
        }
        transport.send(RelayMessage.eose(subscriptionID: subscriptionID))
    }

    private func handleClose(_ subscriptionID: String) {
        guard subscriptions.removeValue(forKey: subscriptionID) != nil else { return }
        relay.subscriptions.remove(connection: id, subscriptionID: subscriptionID)
    }

    /// Live delivery from the fan-out, on any thread: queued for this connection's thread, which
    /// sends it to the subscriptions still open.
    public func deliver(_ eventJSON: [UInt8], to subscriptionIDs: [String]) {
        post(.live(eventJSON, subscriptionIDs))
    }

    // MARK: AUTH

    private func handleAuth(_ event: Event) {
        let now = relay.clock()
        if EventID.compute(event, scratch: &scratch) != event.id {
            return ok(event.id, .rejected(.invalid("event id does not match the hash of the event")))
        }
        if !Schnorr.verify(event) {
            return ok(event.id, .rejected(.invalid("signature verification failed")))
        }
        switch relay.authorization.verifyAuth(event, auth: auth, now: now) {
        case .success(let pubkey):
            auth.add(pubkey)
            relay.logger.debug("authenticated", metadata: ["connection": "\(id)", "pubkey": "\(pubkey)"])
            ok(event.id, .saved)
        case .failure(let rejection):
            ok(event.id, .rejected(rejection))
        }
    }
}

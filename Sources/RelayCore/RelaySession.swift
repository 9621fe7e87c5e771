import EventStorage
import Logging
import NIOConcurrencyHelpers
import NostrCore

/// One client connection's protocol state: its subscriptions, its AUTH state and its events
/// in flight. Confined to the connection's thread; messages are handled in arrival order.
///
/// A REQ is checked and registered here, then its stored events are read by the relay's
/// readers (`ReaderPool`), never on this thread; the answer comes back through the mailbox and
/// is sent in chunks while the client keeps up. Live events that arrive for a subscription
/// before its EOSE wait and follow it, less those its stored answer already held.
public final class RelaySession: Subscriber, EventOrigin, @unchecked Sendable {
    public let id: UInt64
    let relay: Relay
    let transport: any ConnectionTransport
    /// The client's IP address, for the per-address rules.
    let address: String
    public private(set) var auth: AuthState
    /// `auth.pubkeys`, readable on the matcher's thread for live events that only some readers
    /// may see.
    private let provenPubkeys = NIOLockedValueBox<Set<Bytes32>>([])
    private var subscriptions: [String: Subscription] = [:]
    /// NIP-77 reconciliations, by their own ids (a namespace apart from REQs').
    var reconciliations: [String: Reconciliation] = [:]
    var reconciliationsOpened: UInt64 = 0
    /// COUNTs being counted.
    var counts: [String: CountTask] = [:]
    /// Subscriptions whose stored answer is being read or sent, in the order of their REQs:
    /// answers go out in that order, though the readers may finish them in another.
    private var answerOrder: [String] = []
    private var waitingForDrain = false
    private var inFlight = 0
    private var readingPaused = false
    private var scratch: [UInt8] = []
    private var closed = false
    /// When each event in flight arrived (monotonic nanoseconds), for the OK latency metric;
    /// they are few (`maxEventsInFlight`), and mostly answered in order.
    private var arrivals: [(id: Bytes32, at: UInt64)] = []
    /// What other threads hand this connection (outcomes of its events and live events from the
    /// matcher, answers from the readers), in arrival order; `spareMail` is the spare buffer the
    /// mailbox is swapped with on the connection's thread. Only the first message of a run
    /// schedules a hop to that thread, so a commit of many events costs one hop, not one each.
    private let mailbox = NIOLockedValueBox<[Mail]>([])
    private var spareMail: [Mail] = []

    /// Stored events sent per turn before the session checks whether the client keeps up.
    static let chunk = 64
    /// Live events one subscription may hold while its stored answer is read and sent.
    static let maxHeldLive = 10_000

    enum Mail {
        /// One of this connection's events was processed: answer it with an OK.
        case finished(Bytes32, Outcome)
        /// Live events for some of this connection's subscriptions (a matcher batch's).
        case live([LiveEvent])
        /// A REQ's stored events were read.
        case answered(QueryTask, Result<QueryAnswer, any Error>)
        /// A COUNT was counted.
        case counted(CountTask, Result<CountResult, any Error>)
        /// A negentropy message was answered (with the reconciliation's items, on NEG-OPEN).
        case negotiated(NegentropyTask, Result<(NegentropySession, [UInt8]), any Error>)
    }

    struct Subscription {
        /// `["EVENT","<id>",`, escaped once.
        let prefix: [UInt8]
        /// The query reading its stored events, until they are read.
        var task: QueryTask?
        var phase: Phase
        /// When the REQ arrived (monotonic nanoseconds), for the query time metric.
        let started: UInt64
    }

    enum Phase {
        /// The stored events are being read; live events wait in `held`.
        case loading(held: [(json: [UInt8], sequence: UInt64)])
        /// The stored events are being sent (`next` is the first not sent yet).
        case sending(QueryAnswer, next: Int, held: [(json: [UInt8], sequence: UInt64)])
        /// After EOSE: live events committed after the snapshot are sent as they come.
        case live(snapshot: UInt64)
    }

    public init(id: UInt64, relay: Relay, transport: any ConnectionTransport, address: String = "") {
        self.id = id
        self.relay = relay
        self.transport = transport
        self.address = address
        var rng = SystemRandomNumberGenerator()
        let challenge = Hex.encode((0..<16).map { _ in UInt8.random(in: 0...255, using: &rng) })
        auth = AuthState(challenge: challenge)
        scratch.reserveCapacity(1024)
    }

    /// Called once the WebSocket is open: sends the NIP-42 challenge.
    public func start() {
        send(.auth, RelayMessage.auth(challenge: auth.challenge))
    }

    func send(_ verb: RelayMetrics.Outbound, _ message: [UInt8]) {
        relay.metrics.sent(verb)
        transport.send(message)
    }

    /// Called when the connection is gone: drops its subscriptions and stops their queries.
    public func close() {
        closed = true
        relay.subscriptions.removeAll(connection: id)
        for subscription in subscriptions.values { subscription.task?.cancel() }
        subscriptions.removeAll()
        answerOrder.removeAll()
        for reconciliation in reconciliations.values { reconciliation.task?.cancel() }
        reconciliations.removeAll()
        for task in counts.values { task.cancel() }
        counts.removeAll()
    }

    /// Handles one text message from the client.
    public func receive(_ text: UnsafeBufferPointer<UInt8>) {
        let message: ClientMessage
        do {
            message = try ClientMessage.parse(text, limits: relay.parseLimits)
        } catch {
            relay.metrics.received(Self.verb(of: error))
            answer(error)
            return
        }
        switch message {
        case .event(let event):
            relay.metrics.received(.event)
            handleEvent(event)
        case .req(let subscriptionID, let filters):
            relay.metrics.received(.req)
            handleReq(subscriptionID, filters)
        case .close(let subscriptionID):
            relay.metrics.received(.close)
            handleClose(subscriptionID)
        case .auth(let event):
            relay.metrics.received(.auth)
            handleAuth(event)
        case .count(let subscriptionID, let filters):
            relay.metrics.received(.count)
            handleCount(subscriptionID, filters)
        case .negOpen(let subscriptionID, let filter, let bytes):
            relay.metrics.received(.negOpen)
            handleNegOpen(subscriptionID, filter, bytes)
        case .negMsg(let subscriptionID, let bytes):
            relay.metrics.received(.negMsg)
            handleNegMsg(subscriptionID, bytes)
        case .negClose(let subscriptionID):
            relay.metrics.received(.negClose)
            reconciliations.removeValue(forKey: subscriptionID)?.task?.cancel()
        }
        if !reconciliations.isEmpty { tick() }
    }

    public func receive(_ text: [UInt8]) {
        text.withUnsafeBufferPointer { receive($0) }
    }

    /// Tells the client that a message could not be read or was refused as a whole.
    public func notice(_ text: String) {
        send(.notice, RelayMessage.notice(text))
    }

    /// The verb a message that did not parse was counted under.
    static func verb(of error: ClientMessageError) -> RelayMetrics.Inbound {
        switch error {
        case .malformed: .invalid
        case .invalidEvent: .event
        case .invalidFilter: .req
        case .invalidNegentropy: .negOpen
        }
    }

    private func answer(_ error: ClientMessageError) {
        switch error {
        case .malformed(let why):
            notice("invalid: \(why)")
        case .invalidEvent(let id?, let why):
            ok(id, .rejected(.invalid(why)), arrived: RelayMetrics.now())
        case .invalidEvent(nil, let why):
            notice("invalid: \(why)")
        case .invalidFilter(let subscriptionID, let rejection):
            closed(subscriptionID, rejection)
        case .invalidNegentropy(let subscriptionID, let rejection):
            reconciliations.removeValue(forKey: subscriptionID)?.task?.cancel()
            negErr(subscriptionID, rejection.message)
        }
    }

    func negErr(_ subscriptionID: String, _ reason: String) {
        send(.negErr, RelayMessage.negErr(subscriptionID: subscriptionID, reason: reason))
    }

    /// An OK answer; for an event (not an AUTH), its outcome and latency are counted.
    private func ok(_ id: Bytes32, _ outcome: Outcome, arrived: UInt64?) {
        let (accepted, message) = outcome.okAnswer
        if let arrived { relay.metrics.answered(outcome, started: arrived) }
        send(.ok, RelayMessage.ok(id: id, accepted: accepted, message: message))
    }

    func closed(_ subscriptionID: String, _ rejection: Rejection) {
        send(.closed, RelayMessage.closed(subscriptionID: subscriptionID, message: rejection.message))
    }

    // MARK: EVENT

    private func handleEvent(_ event: Event) {
        let arrived = RelayMetrics.now()
        let now = relay.clock()
        let valid: ValidEvent
        switch relay.validation.validate(event, now: now, scratch: &scratch) {
        case .success(let v): valid = v
        case .failure(let rejection): return ok(event.id, .rejected(rejection), arrived: arrived)
        }
        let policy = relay.authorization.snapshot
        if let rejection = policy.check(event, WriteContext(auth: auth, address: address, now: now)) {
            return ok(event.id, .rejected(rejection), arrived: arrived)
        }
        let route = relay.routing.route(event)
        inFlight += 1
        arrivals.append((event.id, arrived))
        if inFlight >= relay.limits.maxEventsInFlight && !readingPaused {
            readingPaused = true
            transport.setReading(false)
        }
        if policy.policy.plugin.isEnabled && !route.isRefusal {
            // The plugin decides off this thread, then hands the event on to processing.
            let request = WritePolicyPlugin.Request(
                valid: valid, route: route, origin: self, address: address, receivedAt: now)
            if !relay.plugin.submit(request) {
                processed(event.id, .rejected(.rateLimited("the relay's write policy is busy, try again shortly")))
            }
            return
        }
        relay.processing.process(valid, route: route, origin: self)
    }

    /// The outcome of one of this connection's events, from any thread (the matcher's, mostly).
    public func processed(_ id: Bytes32, _ outcome: Outcome) {
        post(.finished(id, outcome))
    }

    private func eventFinished() {
        inFlight -= 1
        if readingPaused && inFlight <= relay.limits.maxEventsInFlight / 2 {
            readingPaused = false
            if !closed { transport.setReading(true) }
        }
    }

    // MARK: Mailbox

    /// Queues `mail` for the connection's thread; the first of a run schedules the hop there.
    func post(_ mail: Mail) {
        let first = mailbox.withLockedValue { box in
            box.append(mail)
            return box.count == 1
        }
        if first { transport.execute { [self] in readMail() } }
    }

    /// Handles the mail in the order it came, with one flush at the end. Connection thread only.
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
                    let index = arrivals.firstIndex { $0.id == id }
                    ok(id, outcome, arrived: index.map { arrivals.remove(at: $0).at } ?? RelayMetrics.now())
                    eventFinished()
                case .live(let lives):
                    var sent = 0
                    for event in lives {
                        for subscriptionID in event.subscriptionIDs {
                            guard !closed else { break }
                            if live(event.json, subscriptionID, event.sequence) { sent += 1 }
                        }
                    }
                    if sent > 0 { relay.metrics.sent(.event, count: sent) }
                case .answered(let task, let result):
                    guard !closed else { continue }
                    startSending(task, result)
                case .counted(let task, let result):
                    guard !closed else { continue }
                    finishCount(task, result)
                case .negotiated(let task, let result):
                    guard !closed else { continue }
                    finishNegentropy(task, result)
                }
            }
        }
        mails.removeAll(keepingCapacity: true)
        spareMail = mails
    }

    /// Whether the read policy lets this connection see `event` live (the matcher asks, on its
    /// thread, before it hands the event over).
    public func admits(_ event: Event) -> Bool {
        relay.authorization.snapshot.admitsLive(event, authenticatedAs: { provenPubkeys.withLockedValue { $0 } })
    }

    /// Live events from the matcher, on its thread: queued for this connection's thread, with
    /// one wake-up for all of them.
    public func deliver(_ lives: [LiveEvent]) { post(.live(lives)) }

    /// A query's answer, from a reader thread.
    func answered(_ task: QueryTask, _ result: Result<QueryAnswer, any Error>) {
        post(.answered(task, result))
    }

    // MARK: REQ and CLOSE

    private func handleReq(_ subscriptionID: String, _ filters: [Filter]) {
        if subscriptions[subscriptionID] == nil && subscriptions.count >= relay.limits.maxSubscriptions {
            return closed(
                subscriptionID, .rateLimited("too many open subscriptions (max \(relay.limits.maxSubscriptions))"))
        }
        if transport.isBacklogged {
            // Answers already wait for this client to read them: do not pile up more.
            handleClose(subscriptionID)
            return closed(
                subscriptionID, .rateLimited("too much data waiting for you to read; read it, then ask again"))
        }
        let scope: ReadScope
        switch relay.authorization.authorizeRead(filters, auth: auth, address: address) {
        case .serve(let s): scope = s
        case .deny(let rejection):
            handleClose(subscriptionID)
            return closed(subscriptionID, rejection)
        }
        handleClose(subscriptionID)  // a REQ with an open id replaces that subscription
        // Register before the query takes its snapshot: an event committed in between is held
        // until EOSE and then sent unless the snapshot already held it (its commit sequence).
        var prefix: [UInt8] = []
        RelayMessage.appendEventPrefix(subscriptionID: subscriptionID, to: &prefix)
        let task = QueryTask(
            session: self, subscriptionID: subscriptionID, filters: filters, scope: scope, storage: relay.storage,
            defaultLimit: relay.limits.defaultLimit, now: relay.clock())
        subscriptions[subscriptionID] = Subscription(
            prefix: prefix, task: task, phase: .loading(held: []), started: RelayMetrics.now())
        answerOrder.append(subscriptionID)
        relay.subscriptions.add(connection: id, subscriptionID: subscriptionID, filters: filters, subscriber: self)
        if !relay.readers.submit(task) {
            handleClose(subscriptionID)
            closed(subscriptionID, .rateLimited("the relay has too many queries waiting; ask again shortly"))
        }
    }

    private func handleClose(_ subscriptionID: String) {
        guard let subscription = subscriptions.removeValue(forKey: subscriptionID) else { return }
        subscription.task?.cancel()
        relay.subscriptions.remove(connection: id, subscriptionID: subscriptionID)
        if case .live = subscription.phase { return }
        let wasFirst = answerOrder.first == subscriptionID
        answerOrder.removeAll { $0 == subscriptionID }
        // The answers behind it may be ready.
        if wasFirst && !waitingForDrain && !closed { sendStored() }
    }

    /// A query finished: start sending its answer (unless its subscription is gone or replaced).
    private func startSending(_ task: QueryTask, _ result: Result<QueryAnswer, any Error>) {
        guard var subscription = subscriptions[task.subscriptionID], subscription.task === task,
            case .loading(let held) = subscription.phase
        else { return }
        switch result {
        case .failure(let error):
            relay.logger.error("query failed", metadata: ["error": "\(error)"])
            handleClose(task.subscriptionID)
            closed(task.subscriptionID, .error("could not read the store"))
        case .success(let answer):
            subscription.task = nil
            subscription.phase = .sending(answer, next: 0, held: held)
            subscriptions[task.subscriptionID] = subscription
            if !waitingForDrain { sendStored() }
        }
    }

    /// Sends stored answers in the order of their REQs, a chunk at a time while the client keeps
    /// up; when half the outbound budget waits, continues once the client has read most of it.
    /// An answer still being read holds back the ones behind it.
    private func sendStored() {
        while !closed, let subscriptionID = answerOrder.first {
            if transport.isBacklogged {
                waitingForDrain = true
                transport.whenDrained { [self] in
                    waitingForDrain = false
                    if !closed { transport.batch { sendStored() } }
                }
                return
            }
            guard var subscription = subscriptions[subscriptionID] else {
                answerOrder.removeFirst()
                continue
            }
            if case .loading = subscription.phase { return }  // its query is still being read
            guard case .sending(let answer, let next, let held) = subscription.phase else {
                answerOrder.removeFirst()
                continue
            }
            let end = min(answer.events.count, next + Self.chunk)
            relay.metrics.sent(.event, count: end - next)
            for i in next..<end { transport.sendEvent(prefix: subscription.prefix, eventJSON: answer.events[i].json) }
            if closed { return }  // sending can drop a client over its budget
            if end < answer.events.count {
                subscription.phase = .sending(answer, next: end, held: held)
                subscriptions[subscriptionID] = subscription
                continue
            }
            answerOrder.removeFirst()
            subscription.phase = .live(snapshot: answer.sequence)
            subscriptions[subscriptionID] = subscription
            relay.metrics.queryAnswered(started: subscription.started)
            send(.eose, RelayMessage.eose(subscriptionID: subscriptionID))
            for (json, sequence) in held where sequence > answer.sequence {
                relay.metrics.sent(.event)
                transport.sendEvent(prefix: subscription.prefix, eventJSON: json)
            }
        }
    }

    /// A live event for one subscription: sent after EOSE if the stored answer did not hold it,
    /// held until then otherwise. Whether it was sent (the caller counts them).
    private func live(_ json: [UInt8], _ subscriptionID: String, _ sequence: UInt64) -> Bool {
        guard let index = subscriptions.index(forKey: subscriptionID) else { return false }
        if case .live(let snapshot) = subscriptions.values[index].phase {
            // Sending may close the connection (a client over its budget), which empties
            // `subscriptions`: nothing is touched after it.
            guard sequence > snapshot else { return false }
            transport.sendEvent(prefix: subscriptions.values[index].prefix, eventJSON: json)
            return true
        }
        // Take the phase out of the dictionary so that its held events are appended in place.
        var phase = subscriptions.values[index].phase
        subscriptions.values[index].phase = .live(snapshot: .max)
        switch phase {
        case .live:
            break
        case .loading(var held):
            phase = .live(snapshot: .max)
            guard held.count < Self.maxHeldLive else {
                overflow(subscriptionID)
                return false
            }
            held.append((json, sequence))
            phase = .loading(held: held)
        case .sending(let answer, let next, var held):
            phase = .live(snapshot: .max)
            guard held.count < Self.maxHeldLive else {
                overflow(subscriptionID)
                return false
            }
            held.append((json, sequence))
            phase = .sending(answer, next: next, held: held)
        }
        subscriptions.values[index].phase = phase
        return false
    }

    private func overflow(_ subscriptionID: String) {
        handleClose(subscriptionID)
        closed(subscriptionID, .error("too many new events arrived while the stored ones were read; ask again"))
    }

    // MARK: AUTH

    private func handleAuth(_ event: Event) {
        if let rejection = relay.validation.verifyIdentity(event, scratch: &scratch) {
            return ok(event.id, .rejected(rejection), arrived: nil)
        }
        switch relay.authorization.verifyAuth(event, auth: auth, now: relay.clock()) {
        case .success(let pubkey):
            auth.add(pubkey)
            _ = provenPubkeys.withLockedValue { $0.insert(pubkey) }
            relay.logger.debug("authenticated", metadata: ["connection": "\(id)", "pubkey": "\(pubkey)"])
            ok(event.id, .saved, arrived: nil)
        case .failure(let rejection):
            ok(event.id, .rejected(rejection), arrived: nil)
        }
    }
}

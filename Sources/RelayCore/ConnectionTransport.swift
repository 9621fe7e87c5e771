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
    /// Calls `body` once on the connection's thread, when the client has read most of what
    /// waits for it (at once if little waits). Connection thread only.
    func whenDrained(_ body: @escaping () -> Void)
}

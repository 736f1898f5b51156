// The monotonic clock every timing in the engine, the step and the benches reads.

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Monotonic wall clock in seconds.
public enum Clock {
    /// Seconds from an arbitrary origin (CLOCK_MONOTONIC).
    public static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }
}

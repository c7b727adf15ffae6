#pragma once
// The fault tests' crash-injection hook. In the test-only binary
// (tokengrow_fault_injection, built with TOKENGROW_CRASH_POINTS) the process kills
// itself with SIGKILL the first (or n-th) time it passes the named point, if the
// environment variable TOKENGROW_CRASH_AT is "<name>" or "<name>:<n>"; with
// "<name>:<n>:stop" it stops itself there (SIGSTOP) for the test to act and send
// SIGCONT (the multi-host tests cut a link while a rank is held mid-write). In the
// release binary it is a no-op and the variable means nothing (CMakeLists.txt
// compiles crash_point.cpp into each executable one way or the other).
namespace tg {

void crash_point(const char* name);

}  // namespace tg

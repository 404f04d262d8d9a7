// Giving freed memory back to the system. glibc keeps freed chunks in its arenas, so after
// thousands of connections with large buffers close, RSS stays at its peak (measured: 147 MB
// held after 2,000 connections with 64 KiB partial lines had gone).
#pragma once

namespace netlab {

/// Returns free arena memory to the system (malloc_trim). Costs a walk of the arenas: call it
/// after a wave of closes, not per close.
void returnFreedMemory();

/// Closes after which a trim is worth its walk of the arenas: a client that opens and closes
/// one connection at a time does not make every worker trim every second.
constexpr int kTrimAfterCloses = 32;

}  // namespace netlab

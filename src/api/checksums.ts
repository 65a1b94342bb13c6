/** Moved to src/store/checksums.ts: the object service computes and compares them. */
export * from '../store/checksums.ts'

/**
 * Per-application syscall policies: the model and its O(1) evaluation
 * (policy.ts), torov's JSON format (torov-format.ts), the original ToroV
 * configuration (torov-config.ts), the default policy (default.ts) and file
 * loading (load.ts).
 */
export * from './policy';
export { PolicyError } from './errors';
export { parseSize, parseTorovPolicy, TOROV_FORMAT_VERSION } from './torov-format';
export { parseTorovConfig, isTorovConfig, type TorovConfig } from './torov-config';
export { DEFAULT_RULES, DEFAULT_SOURCE, defaultPolicy } from './default';
export { parseDockerProfile, isDockerProfile, toDockerProfile, type DockerProfileFile } from './docker-profile';
export { policyReport, toTorovDocument, toTorovConfigDocument } from './convert';
export { loadPolicyFile, parsePolicyText, describePolicy, describeRules, formatSize, type LoadedPolicy, type TorovPolicyFile } from './load';
export { makeSyscallTable, linuxSyscalls, type SyscallTable } from './syscall-table';
export { ERRNO_NAMES, errnoByName, errnoName } from './errno';
export { validateForRun, resolveInRoot, ALLOW_HOST_ROOT, type RunChecks } from './validate';

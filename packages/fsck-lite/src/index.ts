/**
 * @ext4/fsck-lite: `ext4-check`, a read-only consistency checker with the
 * verdict of `e2fsck -fn`, for CI systems. Every behaviour of the CLI is a
 * function here; the CLI only parses flags and prints.
 */
export {
  type CheckOptions,
  type CheckResult,
  check,
  type Progress,
  type Summary,
  type Verdict,
} from "./check.js";
export { dxHash } from "./hash.js";
export {
  formatMessage,
  makeProblem,
  type Pass,
  PROBLEMS,
  type Problem,
  type ProblemCode,
  type ProblemContext,
  type ProblemDef,
  type Severity,
} from "./problems.js";
export {
  type HumanOptions,
  type JsonReport,
  renderHuman,
  renderJson,
  summaryLine,
  toJson,
} from "./render.js";

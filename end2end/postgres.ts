// The PostgreSQL database the browser tests' second server uses (trust auth on 127.0.0.1:5432).
// `E2E_PG_DATABASE` names another, for two runs side by side (two worktrees on one machine).
export const PG_DATABASE = process.env.E2E_PG_DATABASE ?? "sheetport_e2e";
export const PSQL = "psql -X -q -h 127.0.0.1 -U postgres -d postgres -v ON_ERROR_STOP=1";

// The servers with accounts (started in playwright.config.ts): the two ports after the plain ones,
// one per project, and the password of their people (ana, an admin, and bob).
export const PASSWORD = "correct horse battery";

export function accountsPort(project: string): number {
  const base = Number(process.env.E2E_PORT ?? 3939);
  return base + (project === "postgres" ? 3 : 2);
}

export function accountsURL(project: string): string {
  return `http://127.0.0.1:${accountsPort(project)}`;
}

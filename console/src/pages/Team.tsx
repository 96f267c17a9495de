import { useCallback, useEffect, useState, type FormEvent } from "react";
import { gql, errorText } from "../api";
import { graphql } from "../gql";
import type { ApiKeysQuery, MembersQuery } from "../gql/graphql";
import { useI18n, type Key } from "../i18n";
import { ConfirmButton, SecretOnce } from "../components/Confirm";

const Members = graphql(`query Members { me { role user { id } } members { role user { id email name } } }`);
const Invite = graphql(`
  mutation InviteMember($email: String!, $role: String!) { inviteMember(email: $email, role: $role) { email role token expiresAt } }
`);
const SetRole = graphql(`mutation SetMemberRole($user: ID!, $role: String!) { setMemberRole(userId: $user, role: $role) { role } }`);
const Remove = graphql(`mutation RemoveMember($user: ID!) { removeMember(userId: $user) }`);
const ApiKeys = graphql(`query ApiKeys { apiKeys { id name prefix createdAt lastUsedAt revokedAt } }`);
const CreateKey = graphql(`mutation CreateApiKey($name: String!) { createApiKey(name: $name) { secret apiKey { id } } }`);
const RevokeKey = graphql(`mutation RevokeApiKey($id: ID!) { revokeApiKey(id: $id) { id } }`);

const ROLES: Key[] = ["owner", "admin", "agent"];

/** Hook: a query's data, a reload, and an error line for the actions on it. */
function useLoaded<T>(load: () => Promise<T>) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState("");
  const reload = useCallback(() => load().then(setData, (e) => setError(errorText(e))), [load]);
  useEffect(() => { reload(); }, [reload]);
  const run = (action: () => Promise<unknown>) =>
    action().then(reload).then(() => setError("")).catch((e) => setError(errorText(e)));
  return { data, error, run };
}

const loadMembers = () => gql(Members, {});
const loadKeys = () => gql(ApiKeys, {}).then((d) => d.apiKeys);

/** Who is in the organization, with what role; invitations with a one-time link. */
export function MembersPage() {
  const { t, date } = useI18n();
  const { data, error, run } = useLoaded<MembersQuery>(loadMembers);
  const [form, setForm] = useState({ email: "", role: "agent" });
  const [invited, setInvited] = useState<{ email: string; link: string; expiresAt: string } | null>(null);
  const invite = (event: FormEvent) => {
    event.preventDefault();
    run(async () => {
      const created = (await gql(Invite, form)).inviteMember;
      const link = `${location.origin}${location.pathname}#/invitation/${encodeURIComponent(created.token)}`;
      setInvited({ email: created.email, link, expiresAt: created.expiresAt });
      setForm({ ...form, email: "" });
    });
  };
  const myId = data?.me.user.id;
  const manages = data?.me.role === "owner" || data?.me.role === "admin";
  return (
    <section className="page">
      <h1>{t("members")}</h1>
      {error && <p role="alert" className="error">{error}</p>}
      <table className="deliveries" data-testid="members">
        <caption className="sr-only">{t("members")}</caption>
        <thead><tr><th>{t("memberName")}</th><th>{t("email")}</th><th>{t("role")}</th><th><span className="sr-only">{t("actions")}</span></th></tr></thead>
        <tbody>
          {data?.members.map((m) => (
            <tr key={m.user.id} data-testid="member" data-email={m.user.email}>
              <td>{m.user.name || "—"}{m.user.id === myId && <> <span className="badge">{t("you")}</span></>}</td>
              <td>{m.user.email}</td>
              <td>
                {manages ? (
                  <select aria-label={`${t("role")}: ${m.user.email}`} value={m.role}
                    onChange={(e) => run(() => gql(SetRole, { user: m.user.id, role: e.target.value }))}>
                    {ROLES.map((r) => <option key={r} value={r}>{t(r)}</option>)}
                  </select>
                ) : <span data-testid="member-role">{ROLES.includes(m.role as Key) ? t(m.role as Key) : m.role}</span>}
              </td>
              <td>
                {manages && m.user.id !== myId && (
                  <ConfirmButton label={t("remove")} question={`${t("removeMember")} ${m.user.email}?`}
                    onConfirm={() => run(() => gql(Remove, { user: m.user.id }))} />
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {manages && <form onSubmit={invite} className="inline-form" aria-label={t("invite")}>
        <h2>{t("invite")}</h2>
        <label>{t("email")}<input type="email" required value={form.email} onChange={(e) => setForm({ ...form, email: e.target.value })} /></label>
        <label>{t("role")}
          <select value={form.role} onChange={(e) => setForm({ ...form, role: e.target.value })}>
            {ROLES.map((r) => <option key={r} value={r}>{t(r)}</option>)}
          </select>
        </label>
        <button type="submit" className="primary">{t("invite")}</button>
      </form>}
      {invited && (
        <SecretOnce testId="invitation-link" value={invited.link} onDone={() => setInvited(null)}
          intro={`${t("invitationOnce")} ${invited.email} · ${t("expires")} ${date(invited.expiresAt)}`} />
      )}
      <p className="hint">{t("rolesHint")}</p>
    </section>
  );
}

/** The organization's API keys: the secret shown once at creation, the list without secrets, revoke. */
export function ApiKeysPage() {
  const { t, date } = useI18n();
  const { data, error, run } = useLoaded<ApiKeysQuery["apiKeys"]>(loadKeys);
  const [name, setName] = useState("");
  const [secret, setSecret] = useState<string | null>(null);
  const create = (event: FormEvent) => {
    event.preventDefault();
    run(async () => {
      setSecret((await gql(CreateKey, { name })).createApiKey.secret);
      setName("");
    });
  };
  return (
    <section className="page">
      <h1>{t("apiKeys")}</h1>
      {error && <p role="alert" className="error">{error}</p>}
      <form onSubmit={create} className="inline-form" aria-label={t("newApiKey")}>
        <h2>{t("newApiKey")}</h2>
        <label>{t("keyName")}<input required value={name} onChange={(e) => setName(e.target.value)} /></label>
        <button type="submit" className="primary">{t("create")}</button>
      </form>
      {secret && <SecretOnce testId="api-key-secret" intro={t("keyOnce")} value={secret} onDone={() => setSecret(null)} />}
      {data && data.length === 0 && <p className="hint">{t("noApiKeys")}</p>}
      <table className="deliveries" data-testid="api-keys">
        <caption className="sr-only">{t("apiKeys")}</caption>
        <thead><tr><th>{t("keyName")}</th><th>{t("prefix")}</th><th>{t("created")}</th><th>{t("lastUsed")}</th><th>{t("status")}</th><th><span className="sr-only">{t("actions")}</span></th></tr></thead>
        <tbody>
          {data?.map((key) => (
            <tr key={key.id} data-testid="api-key" data-revoked={key.revokedAt ? "true" : "false"}>
              <td>{key.name}</td>
              <td><code>{key.prefix}…</code></td>
              <td>{date(key.createdAt)}</td>
              <td>{key.lastUsedAt ? date(key.lastUsedAt) : t("never")}</td>
              <td>{key.revokedAt ? `${t("revoked")} ${date(key.revokedAt)}` : t("active")}</td>
              <td>
                {!key.revokedAt && (
                  <ConfirmButton label={t("revoke")} question={`${t("revokeKey")} ${key.name}?`}
                    onConfirm={() => run(() => gql(RevokeKey, { id: key.id }))} />
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

import { useEffect, useState, type FormEvent } from "react";
import { gql, saveSession, session, errorText } from "../api";
import { graphql } from "../gql";
import { useI18n } from "../i18n";
import { go } from "../routes";

const SignUp = graphql(`
  mutation SignUp($email: String!, $password: String!, $org: String!, $name: String!) {
    signUp(email: $email, password: $password, organizationName: $org, name: $name) { accessToken refreshToken }
  }
`);
const LogIn = graphql(`
  mutation LogIn($email: String!, $password: String!, $org: ID) {
    logIn(email: $email, password: $password, organizationId: $org) { accessToken refreshToken }
  }
`);
const Accept = graphql(`
  mutation AcceptInvitation($token: String!, $password: String!, $name: String!) {
    acceptInvitation(token: $token, password: $password, name: $name) { accessToken refreshToken member { user { email } } }
  }
`);
const MyOrgs = graphql(`
  query MyOrgs { me { organization { id name } } myOrganizations { role organization { id name } } }
`);

export function AuthPage() {
  const { t } = useI18n();
  const [mode, setMode] = useState<"signUp" | "logIn">("signUp");
  const [form, setForm] = useState({ email: "", password: "", org: "", name: "" });
  const [error, setError] = useState("");
  const field = (key: keyof typeof form) => ({
    value: form[key], onChange: (e: { target: { value: string } }) => setForm({ ...form, [key]: e.target.value }),
  });
  async function submit(event: FormEvent) {
    event.preventDefault();
    setError("");
    try {
      const tokens = mode === "signUp"
        ? (await gql(SignUp, form)).signUp
        : (await gql(LogIn, { email: form.email, password: form.password })).logIn;
      saveSession({ ...tokens, email: form.email });
      go("bots");
    } catch (err) {
      setError(errorText(err));
    }
  }
  return (
    <section className="page auth">
      <h1>{t(mode)}</h1>
      <form onSubmit={submit}>
        <label>{t("email")}<input type="email" required autoComplete="email" {...field("email")} /></label>
        <label>{t("password")}<input type="password" required minLength={8} autoComplete={mode === "signUp" ? "new-password" : "current-password"} {...field("password")} /></label>
        {mode === "signUp" && <label>{t("name")}<input {...field("name")} /></label>}
        {mode === "signUp" && <label>{t("organization")}<input required {...field("org")} /></label>}
        {error && <p role="alert" className="error">{error}</p>}
        <button type="submit" className="primary">{t(mode)}</button>
      </form>
      <button className="link" onClick={() => setMode(mode === "signUp" ? "logIn" : "signUp")}>
        {t(mode === "signUp" ? "haveAccount" : "needAccount")}
      </button>
    </section>
  );
}

/** An invitation link (`#/invitation/TOKEN`): an existing account gives its password, a new one picks it. */
export function InvitationPage({ token }: { token: string }) {
  const { t } = useI18n();
  const [form, setForm] = useState({ password: "", name: "" });
  const [error, setError] = useState("");
  async function accept(event: FormEvent) {
    event.preventDefault();
    try {
      const joined = (await gql(Accept, { token: decodeURIComponent(token), ...form })).acceptInvitation;
      saveSession({ accessToken: joined.accessToken, refreshToken: joined.refreshToken, email: joined.member.user.email });
      go("bots");
    } catch (err) {
      setError(errorText(err));
    }
  }
  return (
    <section className="page auth">
      <h1>{t("acceptInvitation")}</h1>
      <p className="hint">{t("joinHint")}</p>
      <form onSubmit={accept}>
        <label>{t("password")}<input type="password" required minLength={8} autoComplete="new-password" value={form.password}
          onChange={(e) => setForm({ ...form, password: e.target.value })} /></label>
        <label>{t("name")}<input value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} /></label>
        {error && <p role="alert" className="error">{error}</p>}
        <button type="submit" className="primary">{t("acceptInvitation")}</button>
      </form>
    </section>
  );
}

/** The organizations the user belongs to; switching logs in to the chosen one (password again). */
export function OrgSwitcher() {
  const { t } = useI18n();
  const [orgs, setOrgs] = useState<{ id: string; name: string }[]>([]);
  const [current, setCurrent] = useState("");
  const [target, setTarget] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState("");
  useEffect(() => {
    gql(MyOrgs, {}).then((data) => {
      setOrgs(data.myOrganizations.map((m) => m.organization));
      setCurrent(data.me.organization.id);
      setTarget(data.me.organization.id);
    }).catch(() => undefined);
  }, []);
  async function switchOrg(event: FormEvent) {
    event.preventDefault();
    const email = session()?.email ?? "";
    try {
      const tokens = (await gql(LogIn, { email, password, org: target })).logIn;
      saveSession({ ...tokens, email });
      setCurrent(target);
      setPassword("");
      setError("");
    } catch (err) {
      setError(errorText(err));
    }
  }
  return (
    <form className="org" onSubmit={switchOrg} aria-label={t("switchOrg")}>
      <label>{t("organization")}{" "}
        <select value={target} onChange={(e) => setTarget(e.target.value)}>
          {orgs.map((o) => <option key={o.id} value={o.id}>{o.name}</option>)}
        </select>
      </label>
      {target !== current && (
        <>
          <label>{t("password")}<input type="password" value={password} onChange={(e) => setPassword(e.target.value)} required /></label>
          <button type="submit">{t("switchTo")}</button>
        </>
      )}
      {error && <span role="alert" className="error">{error}</span>}
    </form>
  );
}

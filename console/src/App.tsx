import { useEffect, useState, type ComponentType } from "react";
import { onSessionChange, saveSession, session } from "./api";
import { useI18n, type Key, type Lang } from "./i18n";
import { useRoute } from "./routes";
import { AuthPage, InvitationPage, OrgSwitcher } from "./pages/Auth";
import { BotsPage } from "./pages/Bots";
import { EditorPage } from "./pages/Editor";
import { InboxPage } from "./pages/Inbox";
import { AnalyticsPage } from "./pages/Analytics";
import { WebhooksPage } from "./pages/Webhooks";
import { ApiKeysPage, MembersPage } from "./pages/Team";

/** The console's pages: add one here (a route segment, its nav label, its component) to slot it in. */
export const PAGES: { path: string; label: Key; component: ComponentType<{ route: string[] }> }[] = [
  { path: "bots", label: "bots", component: BotsPage },
  { path: "flows", label: "editor", component: EditorPage },
  { path: "inbox", label: "inbox", component: InboxPage },
  { path: "analytics", label: "analytics", component: AnalyticsPage },
  { path: "webhooks", label: "webhooks", component: WebhooksPage },
  { path: "members", label: "members", component: MembersPage },
  { path: "apikeys", label: "apiKeys", component: ApiKeysPage },
];

export function App() {
  const { t, lang, setLang } = useI18n();
  const route = useRoute();
  const [signedIn, setSignedIn] = useState(() => session() !== null);
  useEffect(() => onSessionChange(() => setSignedIn(session() !== null)), []);
  const page = PAGES.find((p) => p.path === route[0]) ?? PAGES[0];
  const Page = page.component;
  return (
    <div className="app">
      <header className="top">
        <strong className="brand">{t("appName")}</strong>
        {signedIn && (
          <nav aria-label="main">
            {PAGES.map((p) => (
              <a key={p.path} href={`#/${p.path}`} aria-current={p === page ? "page" : undefined}>{t(p.label)}</a>
            ))}
          </nav>
        )}
        <div className="top-right">
          <label>
            {t("language")}{" "}
            <select value={lang} onChange={(e) => setLang(e.target.value as Lang)}>
              <option value="en">English</option>
              <option value="es">Español</option>
            </select>
          </label>
          {signedIn && <OrgSwitcher />}
          {signedIn && <button onClick={() => saveSession(null)}>{t("logOut")}</button>}
        </div>
      </header>
      <main>
        {route[0] === "invitation" && route[1] ? <InvitationPage token={route[1]} /> : signedIn ? <Page route={route} /> : <AuthPage />}
      </main>
    </div>
  );
}

import { useState } from "react";
import { useI18n } from "../i18n";

/** A destructive action asked twice, in the page (no browser dialog): the button, then "Confirm". */
export function ConfirmButton({ label, question, onConfirm, testId }: {
  label: string; question: string; onConfirm: () => void; testId?: string;
}) {
  const { t } = useI18n();
  const [asking, setAsking] = useState(false);
  if (!asking) return <button type="button" className="danger" data-testid={testId} onClick={() => setAsking(true)}>{label}</button>;
  return (
    <span className="confirm" role="group" aria-label={question}>
      <span>{question}</span>{" "}
      <button type="button" className="danger" autoFocus onClick={() => { setAsking(false); onConfirm(); }}>{t("confirm")}</button>{" "}
      <button type="button" onClick={() => setAsking(false)}>{t("cancel")}</button>
    </span>
  );
}

/** A secret shown once: the value, a copy button, and a button to dismiss it for good. */
export function SecretOnce({ intro, value, onDone, testId }: { intro: string; value: string; onDone: () => void; testId: string }) {
  const { t } = useI18n();
  const [copied, setCopied] = useState(false);
  return (
    <div className="secret-once" role="status" data-testid={testId}>
      <p>{intro}</p>
      <code>{value}</code>{" "}
      <button type="button" onClick={() => navigator.clipboard.writeText(value).then(() => setCopied(true))}>
        {t(copied ? "copied" : "copy")}
      </button>{" "}
      <button type="button" onClick={onDone}>{t("secretStored")}</button>
    </div>
  );
}

import { useId, useRef, useState, type KeyboardEvent } from "react";
import { openTemplate, type FlowVariable } from "../flowModel";
import { useI18n } from "../i18n";

/** A text input (or textarea) that suggests the flow's variables after `{{`: arrows pick, Enter
 * or Tab inserts `name}}`, Escape closes; a click inserts too. */
export function TemplateField({ id, long, value, placeholder, variables, onChange }: {
  id: string; long: boolean; value: string; placeholder?: string; variables: FlowVariable[]; onChange: (value: string) => void;
}) {
  const { t } = useI18n();
  const listId = useId();
  const field = useRef<HTMLInputElement & HTMLTextAreaElement>(null);
  const [partial, setPartial] = useState<string | null>(null);
  const [active, setActive] = useState(0);
  const matches = partial === null ? [] : variables.filter((v) => v.name.toLowerCase().startsWith(partial.toLowerCase()));
  const open = matches.length > 0;

  const track = (text: string, caret: number) => { setPartial(openTemplate(text, caret)); setActive(0); };
  const insert = (name: string) => {
    const element = field.current;
    if (!element || partial === null) return;
    const caret = element.selectionStart ?? value.length;
    const start = caret - partial.length;
    const closing = value.slice(caret).startsWith("}}") ? "" : "}}";
    const next = `${value.slice(0, start)}${name}${closing}${value.slice(caret)}`;
    onChange(next);
    setPartial(null);
    const at = start + name.length + 2;
    requestAnimationFrame(() => { element.focus(); element.setSelectionRange(at, at); });
  };
  const onKeyDown = (event: KeyboardEvent) => {
    if (!open) return;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      const step = event.key === "ArrowDown" ? 1 : -1;
      setActive((active + step + matches.length) % matches.length);
    } else if (event.key === "Enter" || event.key === "Tab") {
      event.preventDefault();
      insert(matches[active].name);
    } else if (event.key === "Escape") {
      event.preventDefault();
      setPartial(null);
    }
  };
  const Input = long ? "textarea" : "input";
  return (
    <div className="template-field">
      <Input id={id} ref={field} value={value} placeholder={placeholder} autoComplete="off"
        aria-autocomplete="list" aria-controls={open ? listId : undefined}
        aria-activedescendant={open ? `${listId}-${active}` : undefined}
        onChange={(e) => { onChange(e.target.value); track(e.target.value, e.target.selectionStart ?? e.target.value.length); }}
        onKeyDown={onKeyDown} onBlur={() => setPartial(null)} />
      {open && (
        <ul id={listId} role="listbox" className="suggestions" aria-label={t("variables")} data-testid="variable-hints">
          {matches.map((v, index) => (
            <li key={v.name} id={`${listId}-${index}`} role="option" aria-selected={index === active}
              onMouseDown={(e) => { e.preventDefault(); insert(v.name); }}>
              <code>{v.name}</code> <small>{v.source}</small>
            </li>
          ))}
        </ul>
      )}
      <span className="sr-only" aria-live="polite">{open ? `${matches.length} ${t("variables").toLowerCase()}` : ""}</span>
    </div>
  );
}

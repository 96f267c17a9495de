// Spanish and English, switchable; dates and numbers in the user's locale.
import { createContext, useContext, useMemo, useState, type ReactNode } from "react";

const en = {
  appName: "BotBuilder console", language: "Language", signUp: "Sign up", logIn: "Log in", logOut: "Log out",
  email: "Email", password: "Password", name: "Your name", organization: "Organization",
  haveAccount: "I already have an account", needAccount: "Create an account", switchOrg: "Switch organization",
  switchTo: "Switch", bots: "Bots", editor: "Flow editor", inbox: "Inbox", analytics: "Analytics",
  newBot: "New bot", botName: "Bot name", description: "Description", create: "Create", noBots: "No bots yet.",
  channels: "Channels", connect: "Connect", kind: "Kind", channelName: "Channel name", webhookUrls: "Webhook URLs",
  secretsStored: "Secrets stored (never shown)", noSecrets: "No secrets", active: "Active", inactive: "Disconnected",
  disconnect: "Disconnect", phoneNumberId: "Phone number ID", accessToken: "Access token", appSecret: "App secret",
  verifyToken: "Verify token", accountSid: "Account SID", authToken: "Auth token", fromNumber: "From number",
  flows: "Flows", newFlow: "New flow", flowName: "Flow name", keywords: "Keywords (comma separated)",
  open: "Open", palette: "Nodes", paletteHint: "Drag a node onto the canvas, or press Enter to add it.",
  properties: "Properties", selectNode: "Select a node to edit it.", deleteNode: "Delete node",
  undo: "Undo", redo: "Redo", saving: "Saving…", saved: "Draft saved", unsaved: "Unsaved changes",
  publish: "Publish", publishMessage: "Version message", published: "Published version", versions: "Versions",
  rollBack: "Roll back", problems: "Problems", noProblems: "No problems: ready to publish.",
  publishRefused: "Publish refused", tryIt: "Try it", send: "Send", typeMessage: "Type a message",
  noWebChannel: "Connect a web channel to try the bot.", restart: "New chat", atNode: "At node",
  conversations: "Conversations", status: "Status", all: "All", search: "Search", contact: "Contact",
  takeOver: "Take over", release: "Release to bot", endFlow: "End the flow", close: "Close",
  answer: "Answer", notes: "Notes", addNote: "Add note", tags: "Tags", saveTags: "Save tags",
  temporal: "Open in Temporal UI", noConversation: "Select a conversation.", bot: "Bot",
  messagesIn: "Messages in", messagesOut: "Messages out", uniqueContacts: "Contacts", newContacts: "New contacts",
  conversationsStarted: "Conversations started", conversationsHandedOff: "Handed off", conversationsAbandoned: "Abandoned",
  flowsCompleted: "Flows completed", errors: "Errors", avgResponseMs: "Avg. response time", from: "From", to: "To",
  timeZone: "Time zone", rightNow: "Right now", activeContacts5m: "Contacts active (5 min)",
  messagesLastHour: "Messages (last hour)", waitingForAgent: "Waiting for an agent", activeConversations: "Open conversations",
  period: "In the period", messagesOverTime: "Messages over time", topKeywords: "Top keywords", satisfaction: "Satisfaction",
  noRatings: "No ratings in the period.", score: "Score", positive: "Positive", responsesCount: "Ratings (+ / = / −)",
  funnel: "Funnel on the flow", noPublishedFlows: "No published flows yet.", flow: "Flow", runs: "Runs",
  completions: "Completed", abandonedRuns: "Abandoned", completionRate: "Completion rate", downloads: "Downloads",
  vsPrevious: "Against the previous period of the same length", reached: "reached", dropped: "dropped", fromZero: "from 0", answersPerQuestion: "Answers per question", node: "Node", answered: "Answered",
  invalidRate: "Invalid rate", answers: "Answers",
  webhooks: "Webhooks", newEndpoint: "New endpoint", allBots: "All bots", events: "Events", allEvents: "All events (*)",
  secretOnce: "The signing secret, shown only now: store it where your receiver can read it.", secretStored: "I stored it",
  noEndpoints: "No webhook endpoints yet.", disabledState: "Disabled", paused: "Paused", deliveries: "Deliveries",
  succeeded: "Succeeded", failed: "Failed", pending: "Pending", latency: "Avg. latency", lastError: "Last error",
  sendTest: "Send test", pause: "Pause", enable: "Enable", deliveryLog: "Delivery log", event: "Event", attempts: "Attempts",
  lastAttempt: "Last attempt", created: "Created", redeliver: "Redeliver", noDeliveries: "No deliveries yet.",
  options: "Options", addOption: "Add option", remove: "Remove", label: "Label", required: "required",
  defaultFlow: "Default flow", makeDefault: "Use when no keyword matches", error: "Error",
  duplicate: "Duplicate", exportFile: "Export file", importFile: "Import flow file", template: "Template",
  fromTemplate: "Create from template", compare: "Changes since previous", added: "added", removedWord: "removed",
  changed: "changed", noChanges: "No changes",
  members: "Members", memberName: "Name", role: "Role", actions: "Actions", you: "you", removeMember: "Remove", invite: "Invite",
  invitationOnce: "Invitation link, shown only now: send it to", expires: "expires", owner: "Owner", admin: "Admin", agent: "Agent",
  rolesHint: "Owners and admins manage bots, flows, channels, members and API keys; agents read and answer conversations.",
  apiKeys: "API keys", newApiKey: "New API key", keyName: "Key name", keyOnce: "The key, shown only now: store it where your integration can read it.",
  noApiKeys: "No API keys yet.", prefix: "Starts with", lastUsed: "Last used", never: "Never", revoked: "Revoked", revoke: "Revoke",
  revokeKey: "Revoke the key", confirm: "Confirm", cancel: "Cancel", copy: "Copy", copied: "Copied",
  acceptInvitation: "Accept the invitation", joinHint: "An existing account gives its password; a new one chooses it.",
  botSettings: "Bot settings", settingsSaved: "Settings saved", noDefaultFlow: "None (only keywords start flows)",
  inactivityMinutes: "Inactivity timeout (minutes)", inactivityHint: "A conversation with no message for this long is abandoned (24 hours when empty).",
  sensitiveData: "Sensitive data", sensitiveHint: "No message text in the Temporal UI's summaries of this bot's runs.", save: "Save",
  deleteBot: "Delete bot", deleteBotWarning: "Deletes the bot with its flows, channels and conversations; running conversations end. This cannot be undone.",
  typeNameToDelete: "To confirm, type the bot's name:",
  variables: "Variables",
  compareVersions: "Compare versions", fromVersion: "From", toVersion: "To", showOnCanvas: "Show changes on the canvas",
  legend: "Legend", unchanged: "unchanged", closeDiff: "Back to the draft",
  connections: "Connections", nowhere: "— (not connected)",
  ACTIVE: "Active", HANDED_OFF: "With an agent", ABANDONED: "Abandoned", CLOSED: "Closed", messages: "messages",
};
type Dict = typeof en;
const es: Dict = {
  appName: "Consola de BotBuilder", language: "Idioma", signUp: "Crear cuenta", logIn: "Entrar", logOut: "Salir",
  email: "Correo", password: "Contraseña", name: "Tu nombre", organization: "Organización",
  haveAccount: "Ya tengo cuenta", needAccount: "Crear una cuenta", switchOrg: "Cambiar de organización",
  switchTo: "Cambiar", bots: "Bots", editor: "Editor de flujos", inbox: "Bandeja", analytics: "Analítica",
  newBot: "Nuevo bot", botName: "Nombre del bot", description: "Descripción", create: "Crear", noBots: "Aún no hay bots.",
  channels: "Canales", connect: "Conectar", kind: "Tipo", channelName: "Nombre del canal", webhookUrls: "URLs de webhook",
  secretsStored: "Secretos guardados (nunca se muestran)", noSecrets: "Sin secretos", active: "Activo", inactive: "Desconectado",
  disconnect: "Desconectar", phoneNumberId: "ID del número", accessToken: "Token de acceso", appSecret: "Secreto de la app",
  verifyToken: "Token de verificación", accountSid: "Account SID", authToken: "Auth token", fromNumber: "Número remitente",
  flows: "Flujos", newFlow: "Nuevo flujo", flowName: "Nombre del flujo", keywords: "Palabras clave (separadas por comas)",
  open: "Abrir", palette: "Nodos", paletteHint: "Arrastra un nodo al lienzo o pulsa Intro para añadirlo.",
  properties: "Propiedades", selectNode: "Selecciona un nodo para editarlo.", deleteNode: "Borrar nodo",
  undo: "Deshacer", redo: "Rehacer", saving: "Guardando…", saved: "Borrador guardado", unsaved: "Cambios sin guardar",
  publish: "Publicar", publishMessage: "Mensaje de la versión", published: "Versión publicada", versions: "Versiones",
  rollBack: "Volver a esta", problems: "Problemas", noProblems: "Sin problemas: listo para publicar.",
  publishRefused: "Publicación rechazada", tryIt: "Pruébalo", send: "Enviar", typeMessage: "Escribe un mensaje",
  noWebChannel: "Conecta un canal web para probar el bot.", restart: "Nueva conversación", atNode: "En el nodo",
  conversations: "Conversaciones", status: "Estado", all: "Todas", search: "Buscar", contact: "Contacto",
  takeOver: "Tomar el control", release: "Devolver al bot", endFlow: "Terminar el flujo", close: "Cerrar",
  answer: "Responder", notes: "Notas", addNote: "Añadir nota", tags: "Etiquetas", saveTags: "Guardar etiquetas",
  temporal: "Abrir en Temporal UI", noConversation: "Selecciona una conversación.", bot: "Bot",
  messagesIn: "Mensajes recibidos", messagesOut: "Mensajes enviados", uniqueContacts: "Contactos", newContacts: "Contactos nuevos",
  conversationsStarted: "Conversaciones iniciadas", conversationsHandedOff: "Derivadas a agente", conversationsAbandoned: "Abandonadas",
  flowsCompleted: "Flujos completados", errors: "Errores", avgResponseMs: "Tiempo medio de respuesta", from: "Desde", to: "Hasta",
  timeZone: "Zona horaria", rightNow: "Ahora mismo", activeContacts5m: "Contactos activos (5 min)",
  messagesLastHour: "Mensajes (última hora)", waitingForAgent: "Esperando a un agente", activeConversations: "Conversaciones abiertas",
  period: "En el periodo", messagesOverTime: "Mensajes en el tiempo", topKeywords: "Palabras clave más usadas", satisfaction: "Satisfacción",
  noRatings: "Sin valoraciones en el periodo.", score: "Puntuación", positive: "Positivas", responsesCount: "Valoraciones (+ / = / −)",
  funnel: "Embudo sobre el flujo", noPublishedFlows: "Aún no hay flujos publicados.", flow: "Flujo", runs: "Ejecuciones",
  completions: "Completadas", abandonedRuns: "Abandonadas", completionRate: "Tasa de finalización", downloads: "Descargas",
  vsPrevious: "Frente al periodo anterior de la misma duración", reached: "llegaron", dropped: "abandonaron", fromZero: "desde 0", answersPerQuestion: "Respuestas por pregunta", node: "Nodo", answered: "Respondidas",
  invalidRate: "Tasa de inválidas", answers: "Respuestas",
  webhooks: "Webhooks", newEndpoint: "Nuevo endpoint", allBots: "Todos los bots", events: "Eventos", allEvents: "Todos los eventos (*)",
  secretOnce: "El secreto de firma, solo se muestra ahora: guárdalo donde tu receptor pueda leerlo.", secretStored: "Ya lo guardé",
  noEndpoints: "Aún no hay endpoints de webhook.", disabledState: "Desactivado", paused: "En pausa", deliveries: "Entregas",
  succeeded: "Entregadas", failed: "Fallidas", pending: "Pendientes", latency: "Latencia media", lastError: "Último error",
  sendTest: "Enviar prueba", pause: "Pausar", enable: "Activar", deliveryLog: "Registro de entregas", event: "Evento", attempts: "Intentos",
  lastAttempt: "Último intento", created: "Creada", redeliver: "Reenviar", noDeliveries: "Aún no hay entregas.",
  options: "Opciones", addOption: "Añadir opción", remove: "Quitar", label: "Texto", required: "obligatorio",
  defaultFlow: "Flujo por defecto", makeDefault: "Usar cuando ninguna palabra clave coincide", error: "Error",
  duplicate: "Duplicar", exportFile: "Exportar archivo", importFile: "Importar archivo de flujo", template: "Plantilla",
  fromTemplate: "Crear desde plantilla", compare: "Cambios desde la anterior", added: "añadidos", removedWord: "quitados",
  changed: "cambiados", noChanges: "Sin cambios",
  members: "Miembros", memberName: "Nombre", role: "Rol", actions: "Acciones", you: "tú", removeMember: "Quitar a", invite: "Invitar",
  invitationOnce: "Enlace de invitación, solo se muestra ahora: envíaselo a", expires: "caduca", owner: "Propietario", admin: "Administrador", agent: "Agente",
  rolesHint: "Propietarios y administradores gestionan bots, flujos, canales, miembros y claves de API; los agentes leen y responden conversaciones.",
  apiKeys: "Claves de API", newApiKey: "Nueva clave de API", keyName: "Nombre de la clave", keyOnce: "La clave, solo se muestra ahora: guárdala donde tu integración pueda leerla.",
  noApiKeys: "Aún no hay claves de API.", prefix: "Empieza por", lastUsed: "Último uso", never: "Nunca", revoked: "Revocada", revoke: "Revocar",
  revokeKey: "Revocar la clave", confirm: "Confirmar", cancel: "Cancelar", copy: "Copiar", copied: "Copiado",
  acceptInvitation: "Aceptar la invitación", joinHint: "Una cuenta existente da su contraseña; una nueva la elige.",
  botSettings: "Ajustes del bot", settingsSaved: "Ajustes guardados", noDefaultFlow: "Ninguno (solo las palabras clave inician flujos)",
  inactivityMinutes: "Inactividad máxima (minutos)", inactivityHint: "Una conversación sin mensajes durante este tiempo se da por abandonada (24 horas si está vacío).",
  sensitiveData: "Datos sensibles", sensitiveHint: "Sin texto de mensajes en los resúmenes de Temporal UI de este bot.", save: "Guardar",
  deleteBot: "Borrar bot", deleteBotWarning: "Borra el bot con sus flujos, canales y conversaciones; las conversaciones en curso terminan. No se puede deshacer.",
  typeNameToDelete: "Para confirmar, escribe el nombre del bot:",
  variables: "Variables",
  compareVersions: "Comparar versiones", fromVersion: "De", toVersion: "A", showOnCanvas: "Ver los cambios en el lienzo",
  legend: "Leyenda", unchanged: "sin cambios", closeDiff: "Volver al borrador",
  connections: "Conexiones", nowhere: "— (sin conectar)",
  ACTIVE: "Activa", HANDED_OFF: "Con un agente", ABANDONED: "Abandonada", CLOSED: "Cerrada", messages: "mensajes",
};
export type Lang = "en" | "es";
export type Key = keyof Dict;
const dictionaries: Record<Lang, Dict> = { en, es };

interface I18n { lang: Lang; setLang: (lang: Lang) => void; t: (key: Key) => string;
  date: (iso: string) => string; number: (n: number) => string }
const Context = createContext<I18n | null>(null);

function initialLang(): Lang {
  const stored = localStorage.getItem("botbuilder.lang");
  if (stored === "en" || stored === "es") return stored;
  return navigator.language.toLowerCase().startsWith("es") ? "es" : "en";
}

export function I18nProvider({ children }: { children: ReactNode }) {
  const [lang, setLangState] = useState<Lang>(initialLang);
  const value = useMemo<I18n>(() => {
    // The browser's own locale (its region) when it speaks the chosen language, else the language.
    const locale = navigator.language.toLowerCase().startsWith(lang) ? navigator.language : lang;
    const dates = new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "short" });
    const numbers = new Intl.NumberFormat(locale);
    document.documentElement.lang = lang;
    return {
      lang,
      setLang: (next) => { localStorage.setItem("botbuilder.lang", next); setLangState(next); },
      t: (key) => dictionaries[lang][key] ?? key,
      date: (iso) => dates.format(new Date(iso)),
      number: (n) => numbers.format(n),
    };
  }, [lang]);
  return <Context.Provider value={value}>{children}</Context.Provider>;
}

export function useI18n(): I18n {
  const value = useContext(Context);
  if (!value) throw new Error("useI18n outside I18nProvider");
  return value;
}

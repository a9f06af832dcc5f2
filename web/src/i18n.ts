// Every text a person reads, in one catalogue: Dutch first, English available. Field labels
// and help come from the policy's forms, not from here.

const nl = {
  "app.name": "Sluis",
  "app.tagline": "Veilige uitwisseling van dossiers voor uitstroom naar een eigen woning",
  "nav.cases": "Dossiers",
  "nav.new": "Nieuwe aanmelding",
  "nav.people": "Collega's toegang geven",
  "nav.logout": "Uitloggen",
  "nav.label": "Hoofdmenu",
  "nav.language": "English",
  "skip": "Naar de inhoud",
  "login.title": "Inloggen",
  "login.username": "Gebruikersnaam",
  "login.password": "Wachtwoord",
  "login.submit": "Inloggen",
  "login.busy": "Bezig met inloggen en het openen van uw sleutel…",
  "login.failed": "Gebruikersnaam of wachtwoord klopt niet.",
  "login.note":
    "Uw wachtwoord verlaat deze pagina niet: de browser leidt er uw inlogcode en uw eigen sleutel van af. De server kan uw gegevens niet openen.",
  "password.title": "Kies uw eigen wachtwoord",
  "password.intro":
    "U bent ingelogd met het eerste wachtwoord van de beheerder. Kies nu uw eigen wachtwoord: daaruit maakt uw browser uw eigen sleutel, die niemand anders kan afleiden.",
  "password.new": "Nieuw wachtwoord (minstens 12 tekens)",
  "password.repeat": "Herhaal het nieuwe wachtwoord",
  "password.submit": "Wachtwoord opslaan",
  "password.short": "Het wachtwoord moet minstens 12 tekens hebben.",
  "password.differ": "De twee wachtwoorden zijn niet gelijk.",
  "password.same": "Kies een ander wachtwoord dan het eerste.",
  "wait.title": "Wachten op toegang",
  "wait.text":
    "Uw eigen sleutel is klaar. Een collega die al toegang heeft, of de beheerder van uw organisatie, moet u nog de sleutel van uw organisatie geven. Daarna kunt u dossiers openen.",
  "wait.retry": "Opnieuw proberen",
  "cases.title": "Dossiers",
  "cases.empty": "Er zijn nog geen dossiers.",
  "cases.name": "Naam cliënt",
  "cases.state": "Status",
  "cases.changed": "Laatste wijziging",
  "cases.waiting": "Wacht op",
  "cases.open": "Openen",
  "cases.unknown": "(naam niet beschikbaar)",
  "case.title": "Dossier",
  "case.history": "Verloop",
  "case.fields": "Gegevens",
  "case.none": "Geen gegevens voor uw organisatie.",
  "case.download": "Document downloaden",
  "case.yes": "Ja",
  "case.no": "Nee",
  "case.withheld": "Niet vrijgegeven",
  "register.title": "Nieuwe aanmelding",
  "register.visible": "Zichtbaar voor: {roles}",
  "register.after": "na verwijzing: {roles}",
  "register.consent": "Toestemming van de cliënt",
  "register.consent.signed": "Getekend op",
  "register.consent.until": "Geldig tot",
  "register.consent.document": "Ondertekende toestemmingsverklaring (scan)",
  "register.monitor": "Voor de monitor (zonder persoonsgegevens)",
  "register.monitor.group": "Doelgroep",
  "register.monitor.origin": "Gemeente van herkomst",
  "register.summary": "Controleren en versturen",
  "register.back": "Terug naar het formulier",
  "register.send": "Aanmelding versturen",
  "register.sent": "De aanmelding is verstuurd.",
  "register.errors": "Het formulier heeft {count} fout(en). Verbeter ze en probeer opnieuw.",
  "field.required": "Dit veld is verplicht.",
  "field.too_long": "Maximaal {max} tekens.",
  "field.range": "Een heel getal van {min} tot {max}.",
  "field.date": "Een datum.",
  "field.bsn": "Geen geldig burgerservicenummer (elfproef).",
  "field.email": "Geen geldig e-mailadres.",
  "field.phone": "Geen geldig telefoonnummer.",
  "field.file_too_big": "Het bestand is te groot (maximaal {max} MB).",
  "field.choose": "Kies…",
  "field.optional": "(niet verplicht)",
  "waits.care.info_requested": "Uw antwoord op de vraag van de coördinator",
  "waits.care.housed": "Evaluatie",
  "waits.coordinator.registered": "Uw beoordeling",
  "waits.coordinator.assessed": "Uw verwijzing",
  "waits.corporation.referred": "Een woning",
  "field.list_help": "Eén per regel.",
  "error.generic": "Er ging iets mis: {detail}",
  "error.locked": "Uw sleutel is vergrendeld. Log opnieuw in.",
  "idle.locked": "U bent 15 minuten niet actief geweest: uw sleutel is vergeten. Log opnieuw in.",
  "people.title": "Collega's toegang geven",
  "people.intro":
    "Geef een collega de sleutel van uw organisatie. Uw browser versleutelt hem voor de eigen sleutel van uw collega; de server kan hem niet openen.",
  "people.give": "Toegang geven",
  "people.holds": "heeft toegang",
  "people.waits": "wacht op toegang",
  "people.nokey": "heeft nog geen eigen wachtwoord gekozen",
  "people.given": "{name} heeft nu toegang.",
  "role.care": "zorgorganisatie",
  "role.coordinator": "uitstroomcoördinator",
  "role.corporation": "corporaties",
  "role.municipality": "gemeente",
  "role.privacy_officer": "functionaris gegevensbescherming",
  "role.admin": "beheerder",
  "state.registered": "Aangemeld",
  "state.info_requested": "Informatie gevraagd",
  "state.assessed": "Beoordeeld",
  "state.rejected": "Afgewezen",
  "state.referred": "Verwezen",
  "state.matched": "Woning gekoppeld",
  "state.housed": "Sleutel overhandigd",
  "state.lease_converted": "Huurcontract omgezet",
  "state.ended": "Beëindigd",
  "state.withdrawn": "Toestemming ingetrokken",
  "category.personalia": "Persoonsgegevens",
  "category.identifiers": "Identificatie",
  "category.household": "Huishouden",
  "category.income": "Inkomen",
  "category.debts": "Schulden",
  "category.dwelling_requirements": "Woonwensen en -eisen",
  "category.care_contact": "Contact begeleiding",
  "category.placement": "Plaatsing en criteria",
  "category.housing_history": "Woonverleden",
  "category.health_care": "Zorg en gezondheid",
  "category.perspective_plan": "Perspectiefplan",
  "category.evaluation": "Evaluatie",
  "category.consent": "Toestemming",
  "category.assessment": "Beoordeling",
};

type Key = keyof typeof nl;

const en: Record<Key, string> = {
  ...nl,
  "app.tagline": "Safe exchange of client files for outflow to a home of one's own",
  "nav.cases": "Cases",
  "nav.new": "New registration",
  "nav.people": "Give colleagues access",
  "nav.logout": "Log out",
  "nav.language": "Nederlands",
  skip: "Skip to content",
  "login.title": "Log in",
  "login.username": "User name",
  "login.password": "Password",
  "login.submit": "Log in",
  "login.busy": "Logging in and opening your key…",
  "login.failed": "User name or password is not right.",
  "login.note":
    "Your password does not leave this page: the browser derives your login code and your own key from it. The server cannot open your data.",
  "password.title": "Choose your own password",
  "password.submit": "Save password",
  "wait.title": "Waiting for access",
  "wait.retry": "Try again",
  "cases.title": "Cases",
  "cases.empty": "No cases yet.",
  "cases.name": "Client name",
  "cases.state": "State",
  "cases.changed": "Last change",
  "cases.waiting": "Waiting for",
  "cases.open": "Open",
  "case.title": "Case",
  "case.history": "History",
  "case.fields": "Data",
  "register.title": "New registration",
  "register.visible": "Visible to: {roles}",
  "register.after": "after referral: {roles}",
  "register.send": "Send registration",
} as Record<Key, string>;

let current: "nl" | "en" = "nl";

/** The language the pages speak. */
export function language(): "nl" | "en" {
  return current;
}

/** Switches the language (kept in memory only). */
export function setLanguage(lang: "nl" | "en"): void {
  current = lang;
  document.documentElement.lang = lang;
}

/** The text for `key`, with `{name}` placeholders filled in. */
export function t(key: Key, params: Record<string, string | number> = {}): string {
  const text = (current === "en" ? en : nl)[key] ?? nl[key];
  return text.replace(/\{(\w+)\}/g, (_, name: string) => String(params[name] ?? ""));
}

/** A text that may not be in the catalogue (a category or state from the policy). */
export function tOr(key: string, fallback: string): string {
  return key in nl ? t(key as Key) : fallback;
}

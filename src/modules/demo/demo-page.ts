/**
 * The demo page: one static page, no build step. A chat widget streaming replies from POST
 * /v1/chat, and a triage view showing every classify task's label and scores from POST /v1/triage.
 */
export const DEMO_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Duet demo</title>
<style>
  body { font: 15px/1.4 system-ui, sans-serif; margin: 0; background: #f3f4f6; display: flex; justify-content: center; }
  main { width: min(420px, 100vw); height: 100vh; display: flex; flex-direction: column; background: #fff; box-shadow: 0 0 12px #0002; }
  header { padding: 12px 16px; background: #1f2937; color: #fff; font-weight: 600; }
  #log { flex: 1; overflow-y: auto; padding: 12px; display: flex; flex-direction: column; gap: 8px; }
  .bubble { max-width: 80%; padding: 8px 12px; border-radius: 14px; white-space: pre-wrap; overflow-wrap: anywhere; }
  .user { align-self: flex-end; background: #2563eb; color: #fff; }
  .assistant { align-self: flex-start; background: #e5e7eb; }
  .error { align-self: center; color: #b91c1c; font-size: 13px; }
  form { display: flex; gap: 8px; padding: 12px; border-top: 1px solid #e5e7eb; }
  input { flex: 1; padding: 8px; border: 1px solid #d1d5db; border-radius: 8px; }
  button { padding: 8px 14px; border: 0; border-radius: 8px; background: #2563eb; color: #fff; }
  details { padding: 0 12px 8px; font-size: 12px; color: #6b7280; }
  nav { display: flex; background: #111827; }
  nav button { flex: 1; border-radius: 0; background: transparent; color: #9ca3af; padding: 10px; }
  nav button[aria-selected="true"] { color: #fff; box-shadow: inset 0 -2px #2563eb; }
  [hidden] { display: none !important; }
  #triage-view { flex: 1; overflow-y: auto; padding: 12px; display: flex; flex-direction: column; gap: 10px; }
  #ticket { min-height: 90px; padding: 8px; border: 1px solid #d1d5db; border-radius: 8px; font: inherit; }
  .task h3 { margin: 4px 0; font-size: 14px; }
  .task .label { color: #2563eb; }
  .score { display: grid; grid-template-columns: 110px 1fr 48px; align-items: center; gap: 6px; font-size: 13px; }
  .bar { height: 10px; background: #2563eb; border-radius: 5px; }
</style>
</head>
<body>
<main>
  <header>Duet demo</header>
  <nav role="tablist">
    <button id="tab-chat" role="tab" aria-selected="true">Chat</button>
    <button id="tab-triage" role="tab" aria-selected="false">Triage</button>
  </nav>
  <div id="log" aria-live="polite"></div>
  <form id="chat">
    <input id="message" autocomplete="off" placeholder="Type a message" maxlength="2000" required>
    <button id="send">Send</button>
  </form>
  <form id="triage-view" hidden>
    <textarea id="ticket" placeholder="Paste a ticket" maxlength="20000" required></textarea>
    <button id="triage">Triage</button>
    <div id="triage-results" aria-live="polite"></div>
  </form>
  <details><summary>API key</summary><input id="key" type="password" placeholder="Bearer token, if the server requires one"></details>
</main>
<script>
  const views = { chat: ['log', 'chat'], triage: ['triage-view'] };
  for (const name of Object.keys(views)) {
    document.getElementById('tab-' + name).addEventListener('click', () => {
      for (const [other, ids] of Object.entries(views)) {
        document.getElementById('tab-' + other).setAttribute('aria-selected', String(other === name));
        for (const id of ids) document.getElementById(id).hidden = other !== name;
      }
    });
  }
  const authHeaders = () => {
    const key = document.getElementById('key').value;
    return { 'content-type': 'application/json', ...(key ? { authorization: 'Bearer ' + key } : {}) };
  };
  const results = document.getElementById('triage-results');
  document.getElementById('triage-view').addEventListener('submit', async (event) => {
    event.preventDefault();
    results.replaceChildren();
    results.dataset.state = 'pending';
    try {
      const response = await fetch('/v1/triage', {
        method: 'POST',
        headers: authHeaders(),
        body: JSON.stringify({ text: document.getElementById('ticket').value }),
      });
      const body = await response.json();
      if (!response.ok) throw new Error(body.message);
      for (const [task, answer] of Object.entries(body.results)) {
        const section = document.createElement('section');
        section.className = 'task';
        section.dataset.task = task;
        const title = document.createElement('h3');
        const label = document.createElement('span');
        label.className = 'label';
        label.textContent = answer.abstained ? 'abstained' : answer.label;
        title.append(task + ': ', label);
        section.append(title);
        for (const [name, score] of Object.entries(answer.scores)) {
          const row = document.createElement('div');
          row.className = 'score';
          row.dataset.label = name;
          const bar = document.createElement('div');
          bar.className = 'bar';
          bar.style.width = (score * 100).toFixed(1) + '%';
          const caption = document.createElement('span');
          caption.textContent = name;
          const percent = document.createElement('span');
          percent.textContent = Math.round(score * 100) + '%';
          const track = document.createElement('div');
          track.append(bar);
          row.append(caption, track, percent);
          section.append(row);
        }
        results.append(section);
      }
      results.dataset.state = 'done';
    } catch (error) {
      results.dataset.state = 'failed';
      const line = document.createElement('div');
      line.className = 'error';
      line.textContent = String(error.message || error);
      results.append(line);
    }
  });
  const log = document.getElementById('log');
  const form = document.getElementById('chat');
  const input = document.getElementById('message');
  const history = [];
  const bubble = (role, text) => {
    const element = document.createElement('div');
    element.className = 'bubble ' + role;
    element.textContent = text;
    log.append(element);
    log.scrollTop = log.scrollHeight;
    return element;
  };
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const content = input.value.trim();
    if (!content) return;
    input.value = '';
    bubble('user', content);
    history.push({ role: 'user', content });
    const reply = bubble('assistant', '');
    reply.dataset.state = 'streaming';
    reply.dataset.deltas = '0';
    try {
      const response = await fetch('/v1/chat', {
        method: 'POST',
        headers: authHeaders(),
        body: JSON.stringify({ messages: history.slice(-20), stream: true }),
      });
      if (!response.ok) throw new Error((await response.json()).message);
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let buffer = '';
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let end;
        while ((end = buffer.indexOf('\\n\\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const name = (/^event: (.*)$/m.exec(block) || [])[1];
          const data = JSON.parse((/^data: (.*)$/m.exec(block) || [])[1] || 'null');
          if (name === 'delta') {
            reply.textContent += data.text;
            reply.dataset.deltas = String(Number(reply.dataset.deltas) + 1);
            log.scrollTop = log.scrollHeight;
          } else if (name === 'error') {
            throw new Error(data.message);
          }
        }
      }
      history.push({ role: 'assistant', content: reply.textContent });
      reply.dataset.state = 'done';
    } catch (error) {
      reply.dataset.state = 'failed';
      bubble('error', String(error.message || error));
      history.pop();
    }
  });
</script>
</body>
</html>
`;

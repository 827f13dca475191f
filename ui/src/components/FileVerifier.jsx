import { useState } from 'preact/hooks';
import { verifyExport } from '../verify.js';
import { ProblemList } from './ProblemList.jsx';

/** Checks an export file's checksums and chains here in the browser; the file is never uploaded. */
export function FileVerifier() {
  const [state, setState] = useState({ busy: false, name: '', report: null, error: '' });
  const check = async (e) => {
    const file = e.currentTarget.files?.[0];
    if (!file) return;
    setState({ busy: true, name: file.name, report: null, error: '' });
    try {
      let records;
      try {
        records = JSON.parse(await file.text());
      } catch (err) {
        throw new Error(`${file.name} is not JSON (${err.message}). Choose a file made by Export or telemetryd snapshots export.`);
      }
      setState({ busy: false, name: file.name, report: await verifyExport(records), error: '' });
    } catch (err) {
      setState({ busy: false, name: file.name, report: null, error: err.message });
    }
  };
  return (
    <>
      <p>
        Checks each checksum (SHA-256 of the RFC 8785 canonical JSON) and chain link of a file made by Export, here in your browser: nothing is
        uploaded.
      </p>
      <label class="file">
        Export file to check
        <input type="file" accept=".json,application/json" onChange={check} />
      </label>
      {state.busy && (
        <p role="status" class="loading">
          Checking {state.name}…
        </p>
      )}
      {state.error && (
        <p role="alert" class="error">
          {state.error}
        </p>
      )}
      {state.report && (
        <>
          <p class="hint">{state.name}:</p>
          <ProblemList checked={state.report.checked} problems={state.report.problems} linkIds={false} />
        </>
      )}
    </>
  );
}

